// Turning a distro tree into a Kata rootfs (upstream setup_rootfs), and the
// minimal overlay tree used when no distro is given (prepare_overlay).
import { lstatSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { AGENT_TARGET_PATH, enableAgentService, installAgent, makeAgentInit, type AgentSource } from './agent.ts';
import { applyConfidentialTweaks } from './confidential.ts';
import { unpackGuestTarballs } from './guest-tarballs.ts';
import { installAgentPolicy } from './policy.ts';
import { RED_HAT_CHRONY, configureChrony } from './chrony.ts';
import { PRUNED_SYSTEMD_FILES, PRUNED_SYSTEMD_UNITS } from '../core/systemd-prune.ts';
import type { RootfsContext } from './types.ts';
import { die, info, ok, step } from '../core/log.ts';
import { fx } from '../core/effects.ts';
import { guestTree, type GuestTree } from '../core/guest-tree.ts';
import { realPathOf } from '../core/safe-paths.ts';
import { createSummaryFile } from './summary.ts';
import { createRootfsSbom, packagesBeforeSetup } from './sbom.ts';


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

/** Step 1 (docs/rootfs.md §3): private temporary directories for systemd: var/tmp -> ../tmp. */
async function linkVarTmp(tree: GuestTree): Promise<void> {
  info('Create symlink to /tmp in /var to create private temporal directories with systemd');
  if (realPathOf(tree.root) === '/') die('refusing to clean var/ of the host root directory');
  await tree.remove('var/cache', 'var/lib', 'var/log', 'var/tmp');
  tree.symlink('../tmp', 'var/tmp');
}

/** Step 2: a tmpfs on /tmp when systemd runs and the distro brings no tmp.mount. */
function installTmpMount(tree: GuestTree): void {
  if (['etc/systemd/system/tmp.mount', 'usr/lib/systemd/system/tmp.mount'].some((p) => tree.has(p))) return;
  info('Install tmp.mount in ./etc/systemd/system');
  const shipped = 'usr/share/systemd/tmp.mount';
  if (tree.isFile(shipped)) tree.copy(tree.resolve(shipped), 'etc/systemd/system/tmp.mount');
  else tree.write('etc/systemd/system/tmp.mount', TMP_MOUNT_UNIT);
}

/** Step 3: KERNEL_MODULES_DIR becomes lib/modules/<its name>, replacing one there. */
async function copyKernelModules(tree: GuestTree, modulesDir: string): Promise<void> {
  info(`Copy kernel modules from ${modulesDir}`);
  await tree.copyTree(modulesDir, join('lib/modules', basename(resolve(modulesDir))));
  ok('Kernel modules copied');
}

/** Step 11: an empty regular resolv.conf the agent can bind-mount over (a link there is replaced). */
function emptyResolvConf(tree: GuestTree): void {
  info('Create /etc/resolv.conf file in rootfs if not exist');
  tree.write('etc/resolv.conf', '', { mode: 0o644 });
}

/** Step 12 (`-d`): the systemd units and files of lib/core/systemd-prune.ts, wherever they are (same filesystem only, no link followed). */
export function deleteUnneededFiles(tree: GuestTree): void {
  info('Removing unneeded systemd services, sockets and files');
  const names = new Set([...PRUNED_SYSTEMD_UNITS.flatMap((u) => [`${u}.service`, `${u}.socket`]), ...PRUNED_SYSTEMD_FILES]);
  // A plan has no tree to walk: which files match is known only when it is there.
  if (fx.planning) return fx.note(`# remove ${[...names].sort().join(' ')} under ${tree.root}`);
  const device = lstatSync(tree.root).dev;
  const walk = (rel: string) => {
    for (const e of readdirSync(join(tree.root, rel), { withFileTypes: true })) {
      const path = join(rel, e.name);
      if (e.isDirectory()) {
        if (lstatSync(join(tree.root, path)).dev === device) walk(path);
      } else if ((e.isFile() || e.isSymbolicLink()) && names.has(e.name)) {
        info(`deleting /${path}`);
        tree.unlink(path);
      }
    }
  };
  walk('');
}

/**
 * The directories the agent's own `make install` (AGENT_SOURCE_DIR) writes
 * into with plain host paths: each made inside the tree first, then refused
 * if the host would reach another place through an absolute link on the way.
 */
function checkAgentDirs(tree: GuestTree, agentInit: string): void {
  if (fx.planning) return;
  const dirs = agentInit === 'yes' ? ['usr/bin', 'sbin'] : ['usr/bin', 'usr/lib/systemd/system', 'etc/systemd/system'];
  for (const dir of dirs) {
    tree.mkdir(dir);
    tree.checkSameOnHost(dir, 'the agent install');
  }
}

export async function setupRootfs(ctx: RootfsContext, agent: AgentSource): Promise<void> {
  const root = ctx.workDir;
  const tree = guestTree(root);
  const s = ctx.settings;
  checkAgentDirs(tree, s.agentInit);
  const packages = await packagesBeforeSetup(root);
  await linkVarTmp(tree);
  if (s.agentInit !== 'yes') installTmpMount(tree);
  if (s.kernelModulesDir) await copyKernelModules(tree, s.kernelModulesDir);
  configureChrony(tree, ctx.distro?.chrony ?? RED_HAT_CHRONY);
  await installAgent(ctx, agent);
  if (s.agentInit === 'yes') makeAgentInit(ctx);
  else await enableAgentService(ctx);
  applyConfidentialTweaks(tree, s, AGENT_TARGET_PATH);
  installAgentPolicy(tree, s, ctx.scriptDir);
  info('Check init is installed');
  if (!fx.planning && !tree.has('sbin/init')) die(`/sbin/init is not installed in ${root}: the distro must provide it (systemd) or use AGENT_INIT=yes`);
  ok('init is installed');
  await unpackGuestTarballs(root, s);
  emptyResolvConf(tree);
  if (s.deleteUnits) deleteUnneededFiles(tree);
  info('Creating summary file');
  createSummaryFile(ctx);
  await step('Creating the SBOM', () => createRootfsSbom(ctx, agent, packages));
}

/** The directories the overlay tree makes; checked before anything is written. */
const OVERLAY_DIRS = ['etc', 'lib/systemd', 'sbin', 'var'];

/** A minimal tree for installing the agent into an existing directory (no distro). */
export function prepareOverlay(root: string): void {
  const tree = guestTree(root);
  for (const d of OVERLAY_DIRS) tree.mkdir(d);
  if (!tree.has('sbin/init')) {
    tree.symlink('./usr/lib/systemd/systemd', 'init');
    tree.symlink('/init', 'sbin/init');
  }
}
