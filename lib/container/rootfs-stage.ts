// The container stage (USE_DOCKER / USE_PODMAN, docs/rootfs.md §2): build the distro's
// image from its Dockerfile.in, run the distro stage of rootfs.ts in it
// (STAGE_PREPARE_ROOTFS=1: populate /rootfs and nothing else), and return so
// that setupRootfs runs on the host. For a non-root caller the setup runs in
// the container too (rootfs.ts's whole flow, as upstream main): its inputs
// (agent, tarballs, policy, modules) are mounted read-only at their host
// paths. The stage runs as a bundle on the distro's own Node
// (lib/container/bundle.ts).
import { existsSync, readFileSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { resolve } from 'node:path';
import { asVariable, containerEnv } from '../core/cli.ts';
import { callerOwner } from '../core/engine-choice.ts';
import { osReleaseField } from '../core/os-release.ts';
import type { AgentSource } from '../rootfs/agent.ts';
import { guestTarballPaths } from '../rootfs/guest-tarballs.ts';
import { policyFileOf } from '../rootfs/policy.ts';
import { OWNER_VARIABLE } from './owner.ts';
import { $ } from '../core/exec.ts';
import type { RootfsContext } from '../rootfs/types.ts';
import { dockerfileFor } from './dockerfile.ts';
import { type BuildSpec, type Engine, type RunSpec, engineFor, selinuxEnabled } from './engine.ts';
import { CONTAINER_PROJECT_DIR, CONTAINER_STAGE_DIR, commonBuildArgs, runInContainer } from './run.ts';
import { isConfidentialGuest } from '../rootfs/confidential.ts';
import { packageCacheBase } from '../rootfs/package-cache.ts';
import type { TreeCache } from '../rootfs/tree-cache.ts';
import { rootfsSettings } from '../rootfs/settings.ts';
import { versionsFileOf } from '../rootfs/versions.ts';

export const CONTAINER_ROOTFS_DIR = '/rootfs';
/** Where the host's PACKAGE_CACHE_DIR is mounted, so container builds reuse its downloads too. */
export const CONTAINER_PACKAGE_CACHE_DIR = '/var/cache/osbuilder-packages';
export const STAGE_SCRIPT = 'rootfs-stage.mjs';
/**
 * A non-root caller's distro-tree cache in its build container (whose whole
 * build runs there): the cache read-only, where the tree is taken from, and
 * one new entry dir made outside, where the container keeps the tree it
 * built. Outside, the caller's process makes that dir the entry and evicts:
 * the cache's bookkeeping (temporaries named by host PIDs, renames) stays on the host.
 */
export const CONTAINER_DISTRO_CACHE_DIR = '/var/cache/osbuilder-distro-trees';
export const CONTAINER_NEW_ENTRY_DIR = '/var/cache/osbuilder-distro-tree-new';
export const CONTAINER_NEW_LAYER_DIR = '/var/cache/osbuilder-distro-layer-new';

export interface StageTreeCache {
  cache: TreeCache;
  key: string;
  /** Host path of the empty entry dir the container fills when it builds the distro stage. */
  newEntry: string;
  /** The AGENT_INIT=yes tree an AGENT_INIT=no tree is built over (lib/rootfs/init-layer.ts): its key and the entry dir it is kept in. */
  layer?: { key: string; newEntry: string };
}

/** Caps the distro stage needs: mount (SYS_ADMIN), chroot, device nodes (MKNOD). */
export const STAGE_CAPS = ['SYS_ADMIN', 'SYS_CHROOT', 'MKNOD'];
/**
 * Upstream raises nofile because apt closes every possible fd; capped at the
 * host's hard limit. Docker only: podman drops all its default_ulimits
 * (containers.conf) as soon as one --ulimit is given, and its limits are
 * that file's business.
 */
const WANTED_NOFILE = 262144;

/** Facts about the host and this build that the run command depends on. */
export interface HostFacts {
  /** /etc/os-release ID is fedora, centos or rhel (no AppArmor there). */
  redHatHost: boolean;
  selinux: boolean;
  nofileHardLimit: number;
  containerName: string;
  /** Host dir holding the stage bundle and the generated Dockerfile. */
  stageDir: string;
}

export function imageName(distroName: string): string {
  return `${distroName}-rootfs-osbuilder`;
}

export function isRedHatFamily(osRelease: string): boolean {
  return ['fedora', 'centos', 'rhel'].includes(osReleaseField(osRelease, 'ID') ?? '');
}

/**
 * The setup's inputs as the inner run is told about them (absolute host
 * paths, mounted read-only at the same paths), for a stage that runs the
 * setup. The agent is a prebuilt one: the build image has no Rust (rootfs.ts
 * refuses an agent source tree before this).
 */
export function setupInputs(ctx: RootfsContext, agent: AgentSource): { env: [string, string][]; mounts: { source: string; target: string; readOnly?: boolean }[] } {
  const s = ctx.settings;
  const env: [string, string][] = [];
  const mounts: { source: string; target: string; readOnly?: boolean }[] = [];
  const file = (variable: string, path: string) => {
    env.push([variable, path]);
    mounts.push({ source: path, target: path, readOnly: true });
  };
  if (agent.kind === 'binary') file('AGENT_SOURCE_BIN', agent.path);
  if (agent.kind === 'tarball') file('AGENT_TARBALL', agent.path);
  if (s.agentPolicy === 'yes') file('AGENT_POLICY_FILE', policyFileOf(s, ctx.scriptDir));
  for (const [variable, path] of guestTarballPaths(s)) file(variable, resolve(path));
  return { env, mounts };
}

/**
 * versions.yaml, for the distro stage too (devkit bakes its CUDA pin from it):
 * KATA_VERSIONS_FILE, else the Kata tree's when it exists, mounted read-only
 * at its host path, since the container's project mount has no Kata tree around it.
 */
export function versionsInput(ctx: RootfsContext): { env: [string, string][]; mounts: { source: string; target: string; readOnly: boolean }[] } {
  const file = resolve(versionsFileOf(ctx.settings, ctx.scriptDir));
  if (!ctx.settings.versionsFile && !existsSync(file)) return { env: [], mounts: [] };
  return { env: [['KATA_VERSIONS_FILE', file]], mounts: [{ source: file, target: file, readOnly: true }] };
}

/** The container's environment (docs/rootfs.md §2), generated from the settings tables; `agent`: the stage runs the setup too. */
export function stageEnv(ctx: RootfsContext, agent?: AgentSource, trees?: StageTreeCache): [string, string][] {
  // The settings the distro stage reads: the table's `container` marks. As upstream's container path, a guest-components tarball means a confidential guest.
  const env = containerEnv(rootfsSettings, { ...ctx.settings, confidentialGuest: isConfidentialGuest(ctx.settings) ? 'yes' : ctx.settings.confidentialGuest });
  const dnfConf = dnfConfOf(ctx);
  if (dnfConf) env.push(['DNF_CONF', dnfConf]);
  const aptKeyring = aptKeyringOf(ctx);
  if (aptKeyring) env.push(['APT_KEYRING', aptKeyring]);
  for (const [key, spec] of Object.entries(ctx.distro?.settings ?? {})) {
    if (spec.env) env.push([spec.env, asVariable(ctx.distroSettings[key])]);
  }
  const packageCache = packageCacheBase(ctx.settings.packageCacheDir) ? CONTAINER_PACKAGE_CACHE_DIR : 'no';
  env.push(['PACKAGE_CACHE_DIR', packageCache], ['ROOTFS_DIR', CONTAINER_ROOTFS_DIR], ['INSIDE_CONTAINER', '1']);
  env.push(...versionsInput(ctx).env);
  if (agent) env.push(...setupInputs(ctx, agent).env);
  else env.push(['STAGE_PREPARE_ROOTFS', '1']);
  if (trees) env.push(['DISTRO_CACHE_DIR', CONTAINER_DISTRO_CACHE_DIR], ['DISTRO_STAGE_KEY', trees.key]);
  if (trees?.layer) env.push(['DISTRO_LAYER_KEY', trees.layer.key]);
  if (trees && ctx.settings.forceRebuild) env.push(['FORCE_REBUILD', 'yes']);
  const owner = callerOwner(engineFor(ctx.settings) ?? 'docker');
  if (owner) env.push([OWNER_VARIABLE, owner]);
  env.push(['HOME', '/root']);
  return env;
}

export function stageBuildSpec(ctx: RootfsContext, engine: Engine): Omit<BuildSpec, 'dockerfile'> {
  return {
    engine,
    image: imageName(ctx.distroName),
    contextDir: ctx.configDir,
    buildArgs: commonBuildArgs(ctx.settings),
    runtime: ctx.settings.dockerRuntime,
  };
}

/** DNF_CONF as an absolute path: mounted at the same path in the container. */
const dnfConfOf = (ctx: RootfsContext) => (ctx.settings.dnfConf ? resolve(ctx.settings.dnfConf) : '');
/** APT_KEYRING likewise, read-only. */
const aptKeyringOf = (ctx: RootfsContext) => (ctx.settings.aptKeyring ? resolve(ctx.settings.aptKeyring) : '');

export function stageRunSpec(ctx: RootfsContext, engine: Engine, facts: HostFacts, agent?: AgentSource, trees?: StageTreeCache): RunSpec {
  const modules = ctx.settings.kernelModulesDir;
  const dnfConf = dnfConfOf(ctx);
  const aptKeyring = aptKeyringOf(ctx);
  const packageCache = packageCacheBase(ctx.settings.packageCacheDir);
  const nofile = Math.min(WANTED_NOFILE, facts.nofileHardLimit);
  return {
    engine,
    image: imageName(ctx.distroName),
    name: facts.containerName,
    runtime: ctx.settings.dockerRuntime,
    ulimits: engine === 'docker' ? [`nofile=${nofile}:${nofile}`] : [],
    caps: STAGE_CAPS,
    securityOpts: ctx.distro?.containerAppArmorUnconfined && !facts.redHatHost ? ['apparmor=unconfined'] : [],
    env: stageEnv(ctx, agent, trees),
    mounts: [
      { source: ctx.scriptDir, target: CONTAINER_PROJECT_DIR },
      { source: facts.stageDir, target: CONTAINER_STAGE_DIR, readOnly: true },
      { source: ctx.workDir, target: CONTAINER_ROOTFS_DIR },
      ...(modules ? [{ source: modules, target: modules, readOnly: true }] : []),
      ...(dnfConf ? [{ source: dnfConf, target: dnfConf, readOnly: true }] : []),
      ...(aptKeyring ? [{ source: aptKeyring, target: aptKeyring, readOnly: true }] : []),
      ...(packageCache ? [{ source: packageCache, target: CONTAINER_PACKAGE_CACHE_DIR }] : []),
      ...versionsInput(ctx).mounts,
      ...(agent ? setupInputs(ctx, agent).mounts : []),
      ...(trees
        ? [
            { source: trees.cache.dir, target: CONTAINER_DISTRO_CACHE_DIR, readOnly: true },
            { source: trees.newEntry, target: CONTAINER_NEW_ENTRY_DIR },
            ...(trees.layer ? [{ source: trees.layer.newEntry, target: CONTAINER_NEW_LAYER_DIR }] : []),
          ]
        : []),
    ],
    relabel: facts.selinux,
    command: ['node', `${CONTAINER_STAGE_DIR}/${STAGE_SCRIPT}`, ...(agent && ctx.settings.deleteUnits ? ['-d'] : []), ctx.distroName],
  };
}

/**
 * Entry of the stage bundle: the distro config linked in, rootfs.ts's main
 * run; `nonRoot`: what it adds to the package cache keeps the cache's owner (pure).
 */
export function stageEntry(distroName: string, nonRoot = false): string {
  const cache = JSON.stringify(CONTAINER_PACKAGE_CACHE_DIR);
  return [
    "import { runMain } from './lib/core/cli.ts';",
    ...(nonRoot ? ["import { matchDirOwner } from './lib/container/owner.ts';"] : []),
    "import { bundledDistros } from './lib/rootfs/distro.ts';",
    `import config from './rootfs/${distroName}/config.ts';`,
    "import { main } from './rootfs.ts';",
    `bundledDistros.set(${JSON.stringify(distroName)}, config);`,
    nonRoot ? `await runMain(async () => { try { await main(); } finally { matchDirOwner(${cache}); } });` : 'await runMain(() => main());',
    '',
  ].join('\n');
}

async function hostFacts(containerName: string, stageDir: string): Promise<HostFacts> {
  return {
    redHatHost: existsSync('/etc/os-release') && isRedHatFamily(readFileSync('/etc/os-release', 'utf8')),
    selinux: await selinuxEnabled(),
    nofileHardLimit: Number((await $`ulimit -Hn`).stdout.trim()) || 1024,
    containerName,
    stageDir,
  };
}

/**
 * The rootfs container stage of rootfs.ts (docs/rootfs.md §2); with `agent`,
 * the setup runs in it too, and with `trees` the distro tree comes from (or
 * goes to) that cache in the container.
 */
export async function runContainerStage(ctx: RootfsContext, agent?: AgentSource, trees?: StageTreeCache): Promise<void> {
  const engine = engineFor(ctx.settings)!;
  const packageCache = packageCacheBase(ctx.settings.packageCacheDir);
  if (packageCache) fx.mkdir(packageCache, { recursive: true }); // a mount needs its source
  await runInContainer({
    engine,
    build: stageBuildSpec(ctx, engine),
    dockerfileText: dockerfileFor(ctx),
    entry: stageEntry(ctx.distroName, !!callerOwner(engine)),
    script: STAGE_SCRIPT,
    run: async (stageDir, containerName) => stageRunSpec(ctx, engine, await hostFacts(containerName, stageDir), agent, trees),
    what: agent ? `the ${ctx.distroName} rootfs build and setup` : `the ${ctx.distroName} rootfs stage`,
  });
}
