// The rootfs SBOM (var/lib/osbuilder/sbom.cdx.json): the packages the
// distro's database lists, read before setup clears var/lib, and what
// osbuilder-ts put in. The inputs other than the agent are a table: a new
// input (a tarball, a policy file) is one line here. The document writer
// (and the purl and SPDX parsers it uses) is loaded only when an SBOM is made.
import { lstatSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';
import { info } from '../core/log.ts';
import { guestTree } from '../core/guest-tree.ts';
import { fileSha256, pathSha256, type SbomInput } from '../sbom/inputs.ts';
import { readOsRelease } from '../sbom/os-release.ts';
import type { PackageSet } from '../sbom/packages.ts';
import { ROOTFS_SBOM_PATH } from '../sbom/paths.ts';
import type { AgentSource } from './agent.ts';
import type { RootfsSettings } from './settings.ts';
import { POLICY_DIR, policyFileOf } from './policy.ts';
import { agentVersionOf } from './summary.ts';
import type { RootfsContext } from './types.ts';

/** A setting naming a file or directory osbuilder-ts puts into the tree. */
export interface InputSetting {
  name: string;
  kind: string;
  setting: keyof RootfsSettings;
  /** Where it lands in the rootfs. */
  installedAt: string;
}

export const SBOM_INPUTS: InputSetting[] = [
  { name: 'agent-tarball', kind: 'tarball', setting: 'agentTarball', installedAt: '/' },
  { name: 'kernel-modules', kind: 'kernel-modules', setting: 'kernelModulesDir', installedAt: '/lib/modules' },
  { name: 'guest-hooks', kind: 'tarball', setting: 'guestHooksTarball', installedAt: '/' },
  { name: 'pause-image', kind: 'tarball', setting: 'pauseImageTarball', installedAt: '/' },
  { name: 'coco-guest-components', kind: 'tarball', setting: 'cocoGuestComponentsTarball', installedAt: '/' },
];

function agentOrigin(agent: AgentSource): string {
  return agent.kind === 'source' ? `source tree ${agent.dir}` : `${agent.kind} ${agent.path}`;
}

function isFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/** The agent and every set input of SBOM_INPUTS, hashed. */
export function sbomInputs(ctx: RootfsContext, agent: AgentSource): SbomInput[] {
  const agentPath = ctx.settings.agentInit === 'yes' ? ctx.initPath : ctx.agentDest;
  const inputs: SbomInput[] = [{
    name: ctx.settings.agentBin,
    kind: 'agent',
    source: agentOrigin(agent),
    version: agentVersionOf(ctx),
    installedAt: `/${relative(ctx.workDir, agentPath)}`,
    ...(isFile(agentPath) ? { sha256: fileSha256(agentPath) } : {}),
  }];
  for (const spec of SBOM_INPUTS) {
    const value = ctx.settings[spec.setting];
    if (typeof value !== 'string' || !value) continue;
    inputs.push({ name: spec.name, kind: spec.kind, source: resolve(value), sha256: pathSha256(value), installedAt: spec.installedAt });
  }
  if (ctx.settings.agentPolicy === 'yes') {
    // AGENT_POLICY_FILE may be unset: the default file comes from the Kata tree.
    const policy = policyFileOf(ctx.settings, ctx.scriptDir);
    inputs.push({ name: 'agent-policy', kind: 'policy', source: policy, sha256: fileSha256(policy), installedAt: `/${POLICY_DIR}/${basename(policy)}` });
  }
  return inputs;
}

/** Read the package database now: setup removes var/lib (dpkg's and older rpm's database). */
export async function packagesBeforeSetup(root: string): Promise<PackageSet | undefined> {
  const { readInstalledPackages } = await import('../sbom/database.ts');
  return readInstalledPackages(root);
}

export async function createRootfsSbom(ctx: RootfsContext, agent: AgentSource, packages: PackageSet | undefined): Promise<void> {
  const { rootfsBomJson } = await import('../sbom/bom.ts');
  const os = readOsRelease(ctx.workDir);
  const inputs = sbomInputs(ctx, agent);
  const text = rootfsBomJson({
    distroId: os.id ?? ctx.osName,
    distroVersion: os.versionId ?? ctx.osVersion,
    arch: ctx.arch,
    osbuilderVersion: ctx.settings.osbuilderVersion,
    inputs,
    ...(packages ? { packages } : {}),
    ...(ctx.settings.sourceDateEpoch !== undefined ? { epoch: ctx.settings.sourceDateEpoch } : {}),
  });
  guestTree(ctx.workDir).write(ROOTFS_SBOM_PATH, text, { mode: 0o644 });
  info(`Created SBOM '/${ROOTFS_SBOM_PATH}' inside rootfs (${packages ? `${packages.packages.length} packages from /${packages.database}` : 'no package database'}; inputs: ${inputs.map((i) => i.name).join(', ')})`);
}
