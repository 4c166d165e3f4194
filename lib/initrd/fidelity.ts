// What a newc initrd cannot hold, said before it is written (README: "Nothing
// lost"). newc has no extended attributes (upstream's format is lossy by
// nature: one WARNING counting and naming them), 32-bit unsigned mtimes
// (before 1970 / after 2106-02-07: clamped to the range, one WARNING) and
// 32-bit file sizes (a file of 4 GiB or more: ERROR, a disk image holds it).
import { haveCommand } from '../core/exec.ts';
import { die, warn } from '../core/log.ts';
import { showPath } from '../core/show-path.ts';
import { xattrHolders } from '../core/xattrs.ts';
import { S_IFMT, S_IFREG } from './cpio.ts';
import type { TreeRecord } from './tree.ts';

const NEWC_MAX = 0xffffffff;
const SHOWN = 5;

function named(paths: string[]): string {
  const more = paths.length > SHOWN ? `, and ${paths.length - SHOWN} more` : '';
  return paths.slice(0, SHOWN).join(', ') + more;
}

/** Refuse files newc cannot hold; warn about mtimes it clamps. */
export function checkNewcLimits(records: TreeRecord[], sourceDateEpoch?: number): void {
  const huge = records.find((r) => (r.mode & S_IFMT) === S_IFREG && r.size > NEWC_MAX);
  if (huge) {
    die(`/${showPath(huge.rel)} is ${huge.size} bytes: a newc initrd holds files below 4 GiB; pack this rootfs as a disk image (image.ts)`);
  }
  // In the archive's order (the scan's order varies from run to run), so the WARNING is the same each time.
  const paths = (keep: (r: TreeRecord) => boolean) => records.filter(keep).sort((a, b) => Buffer.compare(a.rel, b.rel)).map((r) => `/${showPath(r.rel)}`);
  const early = paths((r) => r.mtime < 0);
  const late = sourceDateEpoch === undefined ? paths((r) => r.mtime > NEWC_MAX) : [];
  if (early.length) warn(`a newc initrd cannot hold mtimes before 1970: ${early.length} path(s) get 1970-01-01 (${named(early)})`);
  if (late.length) warn(`a newc initrd cannot hold mtimes after 2106-02-07: ${late.length} path(s) get that date (${named(late)})`);
}

/** One WARNING when the tree has extended attributes: the initrd drops them. */
export async function warnDroppedXattrs(root: string): Promise<void> {
  if (!(await haveCommand('getfattr'))) {
    warn('cannot tell whether the rootfs has extended attributes (file capabilities, ACLs, SELinux labels), which a newc initrd drops: install the attr package (getfattr)');
    return;
  }
  const found = await xattrHolders(root);
  if (!found.length) return;
  const names = found.map((f) => `/${showPath(f.path)} (${f.names.join(' ')})`);
  warn(`a newc initrd cannot hold extended attributes: ${found.length} path(s) lose theirs: ${named(names)}; pack a disk image (image.ts) to keep them`);
}
