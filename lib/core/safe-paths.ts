// Guarding the rootfs directory: never the host's / or one of its system
// directories, and removal of a partial tree that never crosses into a mount.
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { $, undoing } from './exec.ts';
import { mountTable } from './fs-checks.ts';
import { guestPath } from './in-root.ts';
import { die } from './log.ts';

/** Scratch space on tmpfs where rootfs builds may stage (BUILD_IN_RAM): not the host's files. */
export const RAM_DIR = '/dev/shm';

const SYSTEM_DIRS = [
  '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt',
  '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var',
];
const NEVER_INSIDE = ['/proc', '/sys', '/dev', '/etc', '/boot', '/bin', '/sbin', '/lib', '/lib64', '/run'];
const NO_DIRECT_CHILD = ['/usr', '/var'];

/** Resolve symlinks of the longest existing prefix, so `/x/..` or a link to / is seen through. */
export function realPathOf(path: string): string {
  const abs = resolve(path);
  if (existsSync(abs)) return realpathSync(abs);
  const parent = dirname(abs);
  return parent === abs ? abs : join(realPathOf(parent), basename(abs));
}

/** Why `path` must not be used as a rootfs directory, or undefined when it may. */
export function unsafeRootfsReason(path: string): string | undefined {
  const real = realPathOf(path);
  if (real === '/') return 'it is the host root directory /';
  if (SYSTEM_DIRS.includes(real)) return `it is the host system directory ${real}`;
  if (real.startsWith(`${RAM_DIR}/`)) return undefined; // scratch space (BUILD_IN_RAM), not the host's files
  const inside = NEVER_INSIDE.find((d) => real.startsWith(`${d}/`));
  if (inside) return `it is inside the host system directory ${inside}`;
  if (NO_DIRECT_CHILD.includes(dirname(real))) return `it is the host system directory ${real}`;
  return undefined;
}

export function checkRootfsDir(path: string): string {
  const reason = unsafeRootfsReason(path);
  if (reason) die(`refusing to use ROOTFS_DIR ${path}: ${reason}; give a dedicated directory with -r DIR`);
  return resolve(path);
}

/** True for an empty or (as in a plan) not yet created directory. */
export function isEmptyDir(path: string): boolean {
  return !existsSync(path) || readdirSync(path).length === 0;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsBelow(dir: string): string[] {
  const real = realPathOf(dir);
  return mountTable()
    .map((m) => m.point)
    .filter((m) => m === real || m.startsWith(`${real}/`))
    .sort((a, b) => b.length - a.length);
}

/** Removes a tree the caller cannot (a non-root caller's root-owned tree): set by lib/container/remove.ts. */
let privilegedRemover: ((dir: string) => Promise<void>) | undefined;

/** Route what removeTree cannot remove itself through `remover` (a build container). */
export function removeTreesWith(remover: ((dir: string) => Promise<void>) | undefined): void {
  privilegedRemover = remover;
}

/** Remove a tree we created, after unmounting anything left mounted in it; undo work, so it runs after an interrupt too. */
export function removeTree(dir: string): Promise<void> {
  return undoing(() => removeTreeNow(dir));
}

async function removeTreeNow(dir: string): Promise<void> {
  if (unsafeRootfsReason(dir) || !existsSync(dir)) return;
  if (privilegedRemover) {
    // What the caller owns goes here; what a container left root-owned, through the remover.
    await $({ nothrow: true })`rm -rf --one-file-system ${dir}`;
    if (existsSync(dir)) await privilegedRemover(dir);
    return;
  }
  for (const m of mountsBelow(dir)) await $({ nothrow: true })`umount -l ${m}`;
  // On Ctrl-C the whole process group is signalled: a cp or dpkg still
  // finishing may add an entry while rm runs ("Directory not empty"). Retry
  // briefly; the last try reports its error.
  for (let tries = 1; ; tries++) {
    const r = await $({ nothrow: tries < 10 })`rm -rf --one-file-system ${dir}`;
    if (r.exitCode === 0 || !existsSync(dir)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * `root/rel` as the guest resolves it (lib/core/in-root.ts): a host path with
 * no symlink in it, inside root whatever the tree's links say (an absolute
 * link such as etc/resolv.conf -> /run/... leads into the tree, never onto the
 * host). New code writes through lib/core/guest-tree.ts instead.
 */
export function pathInRoot(root: string, rel: string): string {
  return guestPath(root, rel, { followLast: true, create: false });
}
