// xfs, by one of two routes (chosen per tree by xfsRoute):
// - protofile (no mount, byte-reproducible): `mkfs.xfs -p` populates the
//   filesystem from a prototype file generated from the tree walk, then
//   xfs_db writes what a protofile cannot say: mtimes, the sticky bit,
//   sockets (written as fifos, then retyped), hard links (xfs-links.ts) and,
//   for reproducible builds, the other timestamps. mkfs.xfs 6.1's protofile
//   has no xattrs or holes, splits on whitespace and reads each file whole
//   into memory.
// - loop-mount + copy (lib/image/xfs-copy.ts) for trees that need any of
//   those: the kernel's own xfs keeps everything `cp -a` carries.
// Both refuse what xfs itself cannot hold: device majors above 511, minors
// above 262143, link targets over 1023 bytes, times outside 1901-2486.
import { fx } from '../core/effects.ts';
import { join } from 'node:path';
import { $, failureSummary } from '../core/exec.ts';
import { linkGroups, linkXfs } from './xfs-links.ts';
import type { FsBuild } from './fs.ts';
import { MACHINE_ID } from '../core/systemd-prune.ts';
import { imageEntries, type TreeEntry } from './tree.ts';
import { die, warn } from '../core/log.ts';
import { fillXfsByCopy } from './xfs-copy.ts';
import { xattrHolders } from '../core/xattrs.ts';
import { showPath } from '../core/show-path.ts';

const TYPE_CHAR: Partial<Record<TreeEntry['type'], string>> = {
  file: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 'p',
};
const TYPE_BITS: Record<TreeEntry['type'], number> = {
  file: 0o100000, dir: 0o40000, symlink: 0o120000, char: 0o20000, block: 0o60000, fifo: 0o10000, socket: 0o140000,
};

/** The kernel's xfs_vn_mknod takes majors up to 511 (and sysv's 18-bit minors). */
const XFS_MAJOR_MAX = 0x1ff;
const XFS_MINOR_MAX = 0x3ffff;
/** The kernel refuses targets of XFS_SYMLINK_MAXLEN (1024) bytes or more. */
const XFS_SYMLINK_MAX = 1023;
/** bigtime range: nanoseconds since -2^31 in 64 bits. */
const BIGTIME_OFFSET = 2n ** 31n;
const XFS_TIME_MIN = -(2 ** 31);
const XFS_TIME_MAX = Number((2n ** 64n - 1n) / 1_000_000_000n - BIGTIME_OFFSET);
/** Files larger than this go by copy: mkfs.xfs 6.1 reads a protofile's file into memory whole. */
const PROTO_FILE_MAX = 256 * 1024 * 1024;
/** Visibly sparse: at least this much of the size is not allocated on the host. */
const HOLE_MIN_BYTES = 1024 * 1024;
/** What the protofile's whitespace-split tokens and xfs_db's command parser cannot carry. */
const UNSAFE_NAME = /[\s"'\\$#\x00-\x1f\x7f]|^:/;

export const devMajor = (rdev: number) => Math.floor(rdev / 256) & 0xfff | (Math.floor(rdev / 2 ** 32) & ~0xfff);
export const devMinor = (rdev: number) => (rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00));

export interface XfsRoute {
  /** Why the tree goes by loop-mount + copy; undefined: by protofile. */
  copyReason?: string;
  /** The filler keeps holes (cp --sparse), so sizing counts allocated blocks. */
  keepsHoles: boolean;
  /** Files with extended attributes. */
  xattrFiles: number;
}

function protoObstacle(root: string, e: TreeEntry): string | undefined {
  const shown = showPath(e.path);
  const name = e.rel.slice(e.rel.lastIndexOf('/') + 1);
  if (!e.path.equals(Buffer.from(e.rel)) || (e.targetBytes && !e.targetBytes.equals(Buffer.from(e.target!)))) return `the name ${shown} is not UTF-8`;
  if (UNSAFE_NAME.test(name)) return `the name ${shown} has a character protofiles cannot carry`;
  if (e.target !== undefined && UNSAFE_NAME.test(e.target)) return `the link target of ${shown} has a character protofiles cannot carry`;
  if (e.type === 'file' && e.size - e.allocated >= HOLE_MIN_BYTES) return `${shown} is sparse`;
  if (e.type === 'file' && e.size > PROTO_FILE_MAX) return `${shown} is larger than ${PROTO_FILE_MAX / 1024 / 1024} MiB`;
  if (e.type === 'file' && /[\s\x00-\x1f]/.test(join(root, e.rel))) return `the rootfs path ${JSON.stringify(root)} has whitespace`;
  return undefined;
}

/** Refuse what xfs cannot hold; then pick the route the tree needs. */
export async function xfsRoute(tree: { root: string; entries: TreeEntry[] }): Promise<XfsRoute> {
  for (const e of tree.entries) {
    if ((e.type === 'char' || e.type === 'block') && (devMajor(e.rdev) > XFS_MAJOR_MAX || devMinor(e.rdev) > XFS_MINOR_MAX)) {
      die(`cannot put ${showPath(e.path)} (device ${devMajor(e.rdev)}:${devMinor(e.rdev)}) into an xfs image: xfs holds device majors up to ${XFS_MAJOR_MAX} and minors up to ${XFS_MINOR_MAX}; use FS_TYPE=ext4 or erofs`);
    }
    if (e.type === 'symlink' && e.targetBytes!.length > XFS_SYMLINK_MAX) {
      die(`cannot put ${showPath(e.path)} into an xfs image: its link target is ${e.targetBytes!.length} bytes and xfs holds at most ${XFS_SYMLINK_MAX}; use FS_TYPE=ext4 or erofs`);
    }
    if (e.mtimeSec < XFS_TIME_MIN || e.mtimeSec > XFS_TIME_MAX) {
      die(`cannot put ${showPath(e.path)} into an xfs image: its mtime (${e.mtimeSec}) is outside xfs's 1901-2486 range; change it in the rootfs`);
    }
  }
  const withXattrs = await xattrHolders(tree.root);
  let copyReason = withXattrs.length ? `${showPath(withXattrs[0]!.path)} has extended attributes` : undefined;
  for (const e of tree.entries) {
    if (copyReason) break;
    copyReason = protoObstacle(tree.root, e);
  }
  return { ...(copyReason ? { copyReason } : {}), keepsHoles: copyReason !== undefined, xattrFiles: withXattrs.length };
}

function protoMode(e: Pick<TreeEntry, 'type' | 'perm'>): string {
  const t = TYPE_CHAR[e.type]!;
  return `${t}${e.perm & 0o4000 ? 'u' : '-'}${e.perm & 0o2000 ? 'g' : '-'}${(e.perm & 0o777).toString(8).padStart(3, '0')}`;
}

/** The protofile text for the tree; an added machine-id is read from /dev/null (no whitespace in that path). */
function xfsProtofile(b: Pick<FsBuild, 'tree'>, standIns: Set<string>): string {
  const lines = ['osbuilder-ts', '0 0'];
  const stack: string[] = [];
  const depthOf = (rel: string) => (rel ? rel.split('/').length : 0);
  for (const e of imageEntries(b.tree)) {
    const obstacle = e.rel === MACHINE_ID ? undefined : protoObstacle(b.tree.root, e);
    if (obstacle) die(`cannot write an xfs protofile: ${obstacle}`); // xfsRoute sends such trees by copy
    const depth = depthOf(e.rel);
    while (stack.length > depth) {
      stack.pop();
      lines.push('$');
    }
    const name = e.rel.slice(e.rel.lastIndexOf('/') + 1);
    const head = `${e.rel ? `${name} ` : ''}${protoMode(e)} ${e.uid} ${e.gid}`;
    if (e.type === 'file') lines.push(`${head} ${(e.rel === MACHINE_ID && b.tree.addMachineId) || standIns.has(e.rel) ? '/dev/null' : join(b.tree.root, e.rel)}`);
    else if (e.type === 'symlink') lines.push(`${head} ${e.target}`);
    else if (e.type === 'char' || e.type === 'block') lines.push(`${head} ${devMajor(e.rdev)} ${devMinor(e.rdev)}`);
    else lines.push(head);
    if (e.type === 'dir') stack.push(e.rel);
  }
  while (stack.length) {
    stack.pop();
    lines.push('$');
  }
  return lines.join('\n') + '\n';
}

/** A bigtime timestamp as xfs_db writes it: the raw nanoseconds since -2^31 (its .sec field misreads). */
const bigtime = (sec: number) => ((BigInt(sec) + BIGTIME_OFFSET) * 1_000_000_000n).toString();

/** xfs_db commands setting what the protofile cannot express: mtimes, sticky bits, pinned times. */
function xfsFixups(b: Pick<FsBuild, 'tree' | 'epoch'>, standIns: Set<string>): string[] {
  const cmds: string[] = [];
  const times = (mtime: number) => [
    `write core.mtime ${bigtime(mtime)}`,
    ...(b.epoch !== undefined ? ['core.atime', 'core.ctime', 'v3.crtime'].map((f) => `write ${f} ${bigtime(b.epoch!)}`) : []),
  ];
  if (b.epoch !== undefined) {
    // mkfs's own realtime bitmap and summary inodes carry the build time too.
    for (const field of ['rbmino', 'rsumino']) cmds.push('sb 0', `addr ${field}`, ...times(b.epoch));
  }
  for (const e of imageEntries(b.tree)) {
    if (standIns.has(e.rel)) continue;
    const added = e.rel === MACHINE_ID && b.tree.addMachineId;
    cmds.push(`path /${e.rel}`);
    if (e.perm & 0o1000 || e.type === 'socket') cmds.push(`write core.mode 0${(TYPE_BITS[e.type] | e.perm).toString(8)}`);
    const mtime = added ? (b.epoch ?? e.mtimeSec) : e.mtimeSec;
    cmds.push(...times(b.epoch !== undefined ? Math.min(mtime, b.epoch) : mtime));
  }
  return cmds;
}

async function fillByProtofile(b: FsBuild, fsFile: string, meta: string): Promise<void> {
  const groups = linkGroups(b.tree.entries);
  const standIns = new Set(groups.flatMap((g) => g.others));
  const proto = join(b.scratch, 'xfs.proto');
  fx.write(proto, xfsProtofile(b, standIns));
  await $`mkfs.xfs -q -f -m ${meta} -b size=${b.blockSize} -p ${proto} ${fsFile}`;
  const script = join(b.scratch, 'xfs_db.cmds');
  fx.write(script, xfsFixups(b, standIns).join('\n') + '\n');
  const out = await $({ nothrow: true })`xfs_db -x -f ${fsFile} < ${script}`;
  const problem = `${out.stderr}\n${out.stdout}`.split('\n').find((l) => /not found|parsing error|no current|No such|invalid|bad/i.test(l));
  if (out.exitCode !== 0 || problem) die(`fixing up the xfs image with xfs_db failed: ${problem ?? `exit ${out.exitCode}`}`);
  if (groups.length) {
    await linkXfs(fsFile, b.scratch, b.blockSize, groups);
    // Frees the cleared stand-ins' inodes in the inode btrees and counters.
    const repair = await $({ nothrow: true })`xfs_repair -f ${fsFile}`;
    if (repair.exitCode !== 0) die(`xfs_repair could not finish the hard links in the xfs image: ${failureSummary(repair)}`);
  }
}

export async function buildXfs(b: FsBuild, route: XfsRoute): Promise<void> {
  const fsFile = join(b.scratch, 'xfs.img');
  await $`truncate -s ${b.region.bytes} ${fsFile}`;
  const meta = ['reflink=0', ...(b.ids ? [`uuid=${b.ids.uuid}`] : [])].join(',');
  if (route.copyReason) {
    if (b.epoch !== undefined) warn(`xfs: ${route.copyReason}, so the tree is copied through a loop mount; mtimes are clamped to SOURCE_DATE_EPOCH but the image bytes are not reproducible (use ext4 or erofs for that)`);
    await $`mkfs.xfs -q -f -m ${meta} -b size=${b.blockSize} ${fsFile}`;
    await fillXfsByCopy(b, fsFile, route.copyReason);
  } else {
    await fillByProtofile(b, fsFile, meta);
  }
  const check = await $({ nothrow: true })`xfs_repair -n -f ${fsFile}`;
  if (check.exitCode !== 0) die(`xfs_repair found problems in the new xfs filesystem: ${check.stderr.trim().split('\n').pop()}`);
  await $`dd if=${fsFile} of=${b.image} bs=1M seek=${b.region.offset} oflag=seek_bytes conv=notrunc,sparse status=none`;
}
