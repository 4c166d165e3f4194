// The devkit guest extension's builder (rootfs/devkit): an Ubuntu tree of
// debug tools, mounted read-only at /run/kata-extensions/devkit by the guest
// and entered from the agent's debug console through our helper scripts. It
// is bootstrapped with mmdebstrap like the Debian family, then given a static
// busybox (the only binary the shell-less guest base can run before the
// chroot exists), the helper scripts, and trimmed. Every write into the tree
// goes through the in-tree writer.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { join } from 'node:path';
import { guestTree, type GuestTree } from '../core/guest-tree.ts';
import { die, info } from '../core/log.ts';
import { bootstrapDebianTree } from './debootstrap.ts';
import type { RootfsContext } from './types.ts';
import { packageVersion, versionsFileOf } from './versions.ts';

/** Removed by mmdebstrap's customize hook: the build host's resolver and name must not ship (devkit-init seeds the guest's). */
export const HOST_FILES_HOOK = 'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"';

/** Where busybox-static may have put busybox, first found wins (links followed inside the tree). */
export const BUSYBOX_PLACES = ['usr/bin/busybox', 'bin/busybox', 'usr/sbin/busybox', 'sbin/busybox'];
/** The static busybox the helper scripts start from (their `#!`). */
export const STATIC_BUSYBOX = 'usr/bin/busybox.static';

/** Helper script in rootfs/devkit → its name in usr/bin. */
export const HELPER_SCRIPTS: Record<string, string> = {
  'devkit-init.sh': 'devkit-init',
  'devkit-enter.sh': 'devkit-enter',
  'devkit-add-nvidia-repos.sh': 'devkit-add-nvidia-repos',
};
/** The debug console's shell, a link to devkit-enter. */
export const CONSOLE_LINK = 'usr/bin/devkit-sh';

/** apt in the overlay runs as root: the _apt sandbox user cannot write its temp files on the tmpfs upper layer. */
export const APT_SANDBOX_CONF = { path: 'etc/apt/apt.conf.d/99-devkit.conf', text: 'APT::Sandbox::User "root";\n' };

/** Directories whose contents a debug tree does without. */
export const TRIMMED_DIRS = ['usr/share/man', 'usr/share/doc', 'usr/share/info', 'var/lib/apt/lists', 'var/cache/apt'];

/** The CUDA apt repository devkit-add-nvidia-repos adds, pinned in versions.yaml; unset: the script refuses. */
export interface CudaRepo {
  url: string;
  pkg: string;
}

const CUDA_KEY = (arch: string) => `externals.nvidia.cuda.repo.${arch}`;

/** The pin from KATA_VERSIONS_FILE (or the Kata tree's versions.yaml), undefined without one; checked, as it lands in a script. */
export function cudaRepoOf(ctx: RootfsContext): CudaRepo | undefined {
  const file = versionsFileOf(ctx.settings, ctx.scriptDir);
  const url = packageVersion(file, `${CUDA_KEY(ctx.arch)}.url`);
  const pkg = packageVersion(file, `${CUDA_KEY(ctx.arch)}.pkg`);
  if (!url && !pkg) return undefined;
  if (!/^https?:\/\/[A-Za-z0-9._~:/%+-]+$/.test(url)) {
    die(`${CUDA_KEY(ctx.arch)}.url in ${file} is ${url ? `"${url}", not an http(s) URL of plain characters` : 'missing while .pkg is set'}: fix the entry or remove both`);
  }
  if (!/^[A-Za-z0-9._+-]+\.deb$/.test(pkg)) {
    die(`${CUDA_KEY(ctx.arch)}.pkg in ${file} is ${pkg ? `"${pkg}", not a .deb file name` : 'missing while .url is set'}: fix the entry or remove both`);
  }
  return { url: url.replace(/\/+$/, ''), pkg };
}

/** The nvidia helper with its pin filled in (empty without one: the script then refuses to run). */
export function nvidiaHelperText(template: string, repo: CudaRepo | undefined): string {
  return template.replaceAll('__CUDA_REPO_URL__', repo?.url ?? '').replaceAll('__CUDA_REPO_PKG__', repo?.pkg ?? '');
}

/** `DistroConfig.stageInputs`: the CUDA pin is baked into the tree, so it keys the build cache too. */
export function devkitStageInputs(ctx: RootfsContext): Record<string, string> {
  const repo = cudaRepoOf(ctx);
  return { 'CUDA repository (versions.yaml)': repo ? `${repo.url} ${repo.pkg}` : 'none' };
}

function exposeStaticBusybox(tree: GuestTree): void {
  const found = BUSYBOX_PLACES.find((rel) => tree.isFile(rel)) ?? (fx.planning ? BUSYBOX_PLACES[0] : undefined);
  if (!found) die(`busybox-static installed no busybox in ${tree.root} (looked for ${BUSYBOX_PLACES.join(', ')}): the package list must keep busybox-static`);
  tree.copy(tree.resolve(found), STATIC_BUSYBOX, { mode: 0o755, uid: 0, gid: 0 });
}

function installHelpers(ctx: RootfsContext, tree: GuestTree, repo: CudaRepo | undefined): void {
  if (!repo) info(`No ${CUDA_KEY(ctx.arch)} entry in ${versionsFileOf(ctx.settings, ctx.scriptDir)}: devkit-add-nvidia-repos will refuse to run`);
  for (const [script, name] of Object.entries(HELPER_SCRIPTS)) {
    const source = join(ctx.configDir, script);
    if (!existsSync(source)) die(`${source} is missing: the devkit helper scripts belong in ${ctx.configDir}`);
    const text = readFileSync(source, 'utf8');
    tree.write(`usr/bin/${name}`, name === 'devkit-add-nvidia-repos' ? nvidiaHelperText(text, repo) : text, { mode: 0o755, uid: 0, gid: 0 });
  }
  tree.symlink('devkit-enter', CONSOLE_LINK);
}

async function trim(tree: GuestTree): Promise<void> {
  for (const dir of TRIMMED_DIRS) {
    const host = tree.resolve(dir);
    if (fx.planning) fx.note(`# empty ${host}`);
    else if (existsSync(host)) await tree.remove(...readdirSync(host).map((name) => `${dir}/${name}`));
  }
}

/** `DistroConfig.buildRootfs` of devkit. */
export async function buildDevkitRootfs(ctx: RootfsContext): Promise<void> {
  const repo = cudaRepoOf(ctx); // a bad pin stops the build before the download
  await bootstrapDebianTree(ctx, { tool: 'mmdebstrap', customizeHooks: [HOST_FILES_HOOK] });
  const tree = guestTree(ctx.workDir);
  exposeStaticBusybox(tree);
  installHelpers(ctx, tree, repo);
  tree.write(APT_SANDBOX_CONF.path, APT_SANDBOX_CONF.text, { mode: 0o644 });
  fx.chmod(tree.mkdir('tmp'), 0o1777);
  await trim(tree);
  // Searchable by everyone once mounted read-only.
  fx.chmod(ctx.workDir, 0o755);
}
