// Turning a distro tree into a Kata rootfs (upstream setup_rootfs), and the
// minimal overlay tree used when no distro is given (prepare_overlay).
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_TARGET_PATH, enableAgentService, installAgent, makeAgentInit, type AgentSource } from './agent.ts';
import { applyConfidentialTweaks } from './confidential.ts';
import { unpackGuestTarballs } from './guest-tarballs.ts';
import { installAgentPolicy } from './policy.ts';
import { configureChrony } from './chrony.ts';
import { PRUNED_SYSTEMD_FILES, PRUNED_SYSTEMD_UNITS } from '../core/systemd-prune.ts';
import type { RootfsContext } from './types.ts';
import { $ } from '../core/exec.ts';
import { die, info, ok, step } from '../core/log.ts';
import { planning } from '../core/plan.ts';
import { pathInRoot, realPathOf } from '../core/safe-paths.ts';
import { createSummaryFile } from './summary.ts';
import { createRootfsSbom, packagesBeforeSetup } from './sbom.ts';

/** chrony paths of distros that do not say (the Red Hat layout). */
export const DEFAULT_CHRONY = { conf: 'etc/chrony.conf', unit: 'usr/lib/systemd/system/chronyd.service' };

export const TMP_MOUNT_UNIT = `[Unit]
Description=Temporary Directory (/tmp)
Documentation=man:hier(7)
ConditionPathIsSymbolicLink=!/tmp
DefaultDependencies=no
Conflicts=umount.target
Before=local-fs.target umount.target
After=swap.target

[Mount]
What=tmpfs
Where=/tmp
Type=tmpfs
Options=mode=1777,strictatime,nosuid,nodev
`;

function removeIfLink(path: string): void {
  try {
    if (lstatSync(path).isSymbolicLink()) unlinkSync(path);
  } catch {
    /* absent */
  }
}

/** Step 1: private temporary directories for systemd: var/tmp -> ../tmp. */
async function linkVarTmp(root: string): Promise<void> {
  info('Create symlink to /tmp in /var to create private temporal directories with systemd');
  if (realPathOf(root) === '/') die('refusing to clean var/ of the host root directory');
  await $`rm -rf --one-file-system ${['var/cache', 'var/lib', 'var/log', 'var/tmp'].map((d) => join(root, d))}`;
  mkdirSync(join(root, 'var'), { recursive: true });
  symlinkSync('../tmp', join(root, 'var/tmp'));
}

/** Step 2: a tmpfs on /tmp when systemd runs and the distro brings no tmp.mount. */
function installTmpMount(root: string): void {
  const have = ['etc/systemd/system/tmp.mount', 'usr/lib/systemd/system/tmp.mount'].some((p) => existsSync(join(root, p)));
  if (have) return;
  info('Install tmp.mount in ./etc/systemd/system');
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  const unit = pathInRoot(root, 'etc/systemd/system/tmp.mount');
  const shipped = join(root, 'usr/share/systemd/tmp.mount');
  if (existsSync(shipped)) copyFileSync(pathInRoot(root, 'usr/share/systemd/tmp.mount'), unit);
  else writeFileSync(unit, TMP_MOUNT_UNIT);
}

/** Step 3. */
async function copyKernelModules(root: string, modulesDir: string): Promise<void> {
  info(`Copy kernel modules from ${modulesDir}`);
  mkdirSync(join(root, 'lib/modules'), { recursive: true });
  await $`cp -a ${modulesDir} ${pathInRoot(root, 'lib/modules')}/`;
  ok('Kernel modules copied');
}

/** Step 8: an empty regular resolv.conf the agent can bind-mount over. */
function emptyResolvConf(root: string): void {
  const file = join(root, 'etc/resolv.conf');
  removeIfLink(file);
  info('Create /etc/resolv.conf file in rootfs if not exist');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(pathInRoot(root, 'etc/resolv.conf'), '');
  chmodSync(join(root, 'etc/resolv.conf'), 0o644);
}

/** Step 9 (`-d`): the systemd units and files of SPEC §4, wherever they are (same filesystem only). */
export function deleteUnneededFiles(root: string): void {
  info('Removing unneeded systemd services, sockets and files');
  const names = new Set([...PRUNED_SYSTEMD_UNITS.flatMap((u) => [`${u}.service`, `${u}.socket`]), ...PRUNED_SYSTEMD_FILES]);
  const device = lstatSync(root).dev;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (lstatSync(path).dev === device) walk(path);
      } else if ((e.isFile() || e.isSymbolicLink()) && names.has(e.name)) {
        info(`deleting ${path.slice(root.length)}`);
        unlinkSync(path);
      }
    }
  };
  walk(root);
}

export async function setupRootfs(ctx: RootfsContext, agent: AgentSource): Promise<void> {
  const root = ctx.workDir;
  const s = ctx.settings;
  const packages = await packagesBeforeSetup(root);
  await linkVarTmp(root);
  if (s.agentInit !== 'yes') installTmpMount(root);
  if (s.kernelModulesDir) await copyKernelModules(root, s.kernelModulesDir);
  configureChrony(root, ctx.distro?.chrony ?? DEFAULT_CHRONY);
  await installAgent(ctx, agent);
  if (s.agentInit === 'yes') makeAgentInit(ctx);
  else await enableAgentService(ctx);
  applyConfidentialTweaks(root, s, AGENT_TARGET_PATH);
  installAgentPolicy(root, s, ctx.scriptDir);
  info('Check init is installed');
  if (!planning() && !existsSync(ctx.initPath) && !isLink(ctx.initPath)) die(`/sbin/init is not installed in ${root}: the distro must provide it (systemd) or use AGENT_INIT=yes`);
  ok('init is installed');
  await unpackGuestTarballs(root, s);
  emptyResolvConf(root);
  if (s.deleteUnits) deleteUnneededFiles(root);
  info('Creating summary file');
  createSummaryFile(ctx);
  await step('Creating the SBOM', () => createRootfsSbom(ctx, agent, packages));
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A minimal tree for installing the agent into an existing directory (no distro). */
export function prepareOverlay(root: string): void {
  for (const d of ['etc', 'lib/systemd', 'sbin', 'var']) mkdirSync(join(root, d), { recursive: true });
  if (!existsSync(join(root, 'sbin/init')) && !isLink(join(root, 'sbin/init'))) {
    removeIfLink(join(root, 'init'));
    symlinkSync('./usr/lib/systemd/systemd', join(root, 'init'));
    symlinkSync('/init', join(root, 'sbin/init'));
  }
}
