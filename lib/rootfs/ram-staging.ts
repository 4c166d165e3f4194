// Building the rootfs in RAM (BUILD_IN_RAM): dpkg and rpm write and rename
// tens of thousands of small files, several times faster on tmpfs than on a
// disk filesystem. The finished tree is then copied beside ROOTFS_DIR (one
// sequential pass) and renamed into place as before.
import { statfsSync } from 'node:fs';
import { mountTable } from '../core/fs-checks.ts';
import { die, info } from '../core/log.ts';
import { RAM_DIR } from '../core/safe-paths.ts';

export type BuildInRam = 'auto' | 'yes' | 'no';

export const RAM_MIN_FREE_BYTES = 2 * 1024 ** 3;
const TMPFS_MAGIC = 0x01021994;
/** Mount options under which a chroot build cannot run (device nodes, programs). */
const BLOCKING_OPTIONS = ['nodev', 'noexec'];

/** The options of the mount at `dir` exactly (the last one wins). */
export function mountOptionsOf(dir: string, mounts = mountTable()): string[] | undefined {
  return mounts.filter((m) => m.point === dir).at(-1)?.options;
}

/** Why `dir` cannot hold the build, or undefined when it can. */
export function ramUnusableReason(dir = RAM_DIR): string | undefined {
  let st;
  try {
    st = statfsSync(dir);
  } catch {
    return `${dir} does not exist`;
  }
  if (st.type !== TMPFS_MAGIC) return `${dir} is not a tmpfs`;
  const blocking = (mountOptionsOf(dir) ?? []).filter((o) => BLOCKING_OPTIONS.includes(o));
  if (blocking.length) return `${dir} is mounted ${blocking.join(',')}`;
  const free = st.bavail * st.bsize;
  if (free < RAM_MIN_FREE_BYTES) return `${dir} has ${(free / 1024 ** 3).toFixed(1)} GiB free, less than ${RAM_MIN_FREE_BYTES / 1024 ** 3} GiB`;
  return undefined;
}

/** The directory to build in, or undefined to build on the disk beside ROOTFS_DIR. */
export function ramStagingParent(mode: BuildInRam, dir = RAM_DIR): string | undefined {
  if (mode === 'no') return undefined;
  const reason = ramUnusableReason(dir);
  if (!reason) return dir;
  if (mode === 'yes') die(`BUILD_IN_RAM=yes but ${reason}: set BUILD_IN_RAM=auto to build on the disk instead`);
  info(`Building on the disk: ${reason}`);
  return undefined;
}
