// A rootfs as a sorted listing of its paths with type, mode, owner, size
// (regular files) and link target, for comparing an incremental rebuild with
// a build from scratch. Files that differ between two builds from scratch
// anyway (logs, caches a package manager rewrites with times or PIDs in them)
// are left out: VOLATILE_PATHS, also documented in the README.
import { $ } from '../../lib/core/exec.ts';

/** Paths (relative, as find prints them from the root) whose bytes two identical builds do not share. */
export const VOLATILE_PATHS: RegExp[] = [
  /^\.\/var\/log\//, // logs of the package manager's run (apt/dpkg/dnf: times)
  /^\.\/var\/cache\/ldconfig\/aux-cache$/, // ldconfig's cache of file times
  /^\.\/var\/cache\/debconf\/.*-old$/, // debconf's previous state
  /^\.\/var\/lib\/dpkg\/.*-old$/, // dpkg's previous state
  /^\.\/var\/lib\/dnf\//, // dnf's history database (times, transaction ids)
  /^\.\/var\/lib\/rpm\//, // rpm's database (sqlite pages, times)
  /^\.\/var\/cache\/dnf\//, // dnf's metadata cache
];

export async function treeListing(root: string, volatile = VOLATILE_PATHS): Promise<string[]> {
  const lines = (await $`cd ${root} && find . -printf '%p\t%y\t%m\t%U:%G\t%s\t%l\n'`).stdout.trim().split('\n');
  return lines
    .map((l) => l.split('\t'))
    .filter(([path]) => !volatile.some((re) => re.test(path!)))
    // A directory's size depends on its history on the disk, not on what it holds.
    .map(([path, type, mode, owner, size, target]) => [path, type, mode, owner, type === 'd' ? '-' : size, target].join('\t'))
    .sort();
}
