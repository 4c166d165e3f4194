// ext4 without a mount: `mke2fs -d` fills the filesystem straight from the
// rootfs directory into its partition of the image file (-E offset=), then
// debugfs applies the image's edits (an empty machine-id in, the device
// nodes of the tree's table made with their mode, owner and mtime), sets
// the mtimes after 2038 that mke2fs writes without the 256-byte inode's extra
// epoch bits, and, for reproducible builds, pins every inode's timestamps. The rootfs
// directory itself is only read.
import { fx } from '../core/effects.ts';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { EXT4_RESERVED_PERCENT, ext4InodeCount, ext4Needs } from './size.ts';
import type { FsBuild } from './fs.ts';
import { MACHINE_ID } from '../core/systemd-prune.ts';
import { deviceNodeEntries, imageEntries } from './tree.ts';
import { nodeLetter, nodeModeBits } from '../core/device-nodes.ts';
import { devMajor, devMinor } from '../initrd/cpio.ts';
import { die } from '../core/log.ts';
import { showPath } from '../core/show-path.ts';

/**
 * One debugfs argument: its parser (libss) takes a double-quoted word with a
 * quote written twice. The result is a byte string (one char per byte, written
 * out as latin1), so names that are not UTF-8 reach debugfs unchanged.
 */
function debugfsArg(path: string | Buffer): string {
  const bytes = typeof path === 'string' ? Buffer.from(path) : path;
  if (bytes.includes(0x0a)) die(`cannot edit ${showPath(bytes)} in the ext4 image: debugfs reads one request a line and the name holds a newline; rename it or use FS_TYPE=erofs`);
  return `"${bytes.toString('latin1').replaceAll('"', '""')}"`;
}

/** Seconds that fit a 32-bit inode time; later ones need the extra epoch bits mke2fs -d leaves out. */
const INT32_MAX = 2 ** 31 - 1;
/** ext4's range with 256-byte inodes (34-bit seconds from -2^31). */
const EXT4_TIME_MIN = -(2 ** 31);
const EXT4_TIME_MAX = 2 ** 34 - 2 ** 31 - 1;

const debugfsPath = (rel: string | Buffer) => debugfsArg(Buffer.concat([Buffer.from('/'), typeof rel === 'string' ? Buffer.from(rel) : rel]));

/** debugfs requests for the image's edits and timestamp pinning. */
function ext4EditScript(b: Pick<FsBuild, 'tree' | 'epoch'>, emptyFile: string): string[] {
  const pin = (q: string, mtime: number) => [`sif ${q} atime @${b.epoch}`, `sif ${q} ctime @${b.epoch}`, `sif ${q} crtime @${b.epoch}`, `sif ${q} mtime @${mtime}`];
  const cmds: string[] = [];
  if (b.tree.addMachineId) {
    cmds.push(`write ${debugfsArg(emptyFile)} /${MACHINE_ID}`, `sif /${MACHINE_ID} mode 0100644`, `sif /${MACHINE_ID} uid 0`, `sif /${MACHINE_ID} gid 0`);
  }
  for (const e of deviceNodeEntries(b.tree)) {
    const q = debugfsPath(e.path);
    const type = nodeModeBits(e.type);
    // debugfs's mknod takes a name in the current directory, not a path.
    const slash = e.path.lastIndexOf(0x2f);
    const dir = slash < 0 ? Buffer.alloc(0) : e.path.subarray(0, slash);
    cmds.push(`cd ${debugfsPath(dir)}`, `mknod ${debugfsArg(e.path.subarray(slash + 1))} ${nodeLetter(e.type)} ${devMajor(e.rdev)} ${devMinor(e.rdev)}`, 'cd /');
    cmds.push(`sif ${q} mode 0${(type | e.perm).toString(8)}`, `sif ${q} uid ${e.uid}`, `sif ${q} gid ${e.gid}`);
    if (b.epoch === undefined) cmds.push(`sif ${q} mtime @${e.mtimeSec}`);
  }
  for (const e of imageEntries(b.tree)) {
    const q = () => (e.rel ? debugfsPath(e.path) : '/'); // only for the entries edited: most names never reach debugfs
    if (b.epoch !== undefined) cmds.push(...pin(q(), Math.min(e.mtimeSec, b.epoch)));
    else if (e.mtimeSec > INT32_MAX) cmds.push(`sif ${q()} mtime @${e.mtimeSec}`);
  }
  return cmds;
}

/** Before any work: every edit debugfs will make can be written (a name with a newline cannot). */
export function checkExt4CanHold(tree: FsBuild['tree'], epoch?: number): void {
  ext4EditScript({ tree, ...(epoch !== undefined ? { epoch } : {}) }, '/');
}

export async function buildExt4(b: FsBuild): Promise<void> {
  const outside = b.tree.entries.find((e) => e.mtimeSec < EXT4_TIME_MIN || e.mtimeSec > EXT4_TIME_MAX);
  if (outside) die(`cannot put ${outside.rel} into an ext4 image: its mtime (${outside.mtimeSec}) is outside ext4's 1901-2446 range; change it in the rootfs`);
  // Many small files: more inodes than the size's default ratio gives (sized to match in build.ts).
  const inodeCount = ext4InodeCount(ext4Needs(b.tree.entries, b.blockSize, b.tree.addMachineId ? 1 : 0), b.region.bytes, b.blockSize);
  const inodes = inodeCount !== undefined ? ['-N', inodeCount] : [];
  const env = b.epoch !== undefined ? { E2FSPROGS_FAKE_TIME: String(b.epoch), E2FSCK_TIME: String(b.epoch) } : {};
  // The partition is a fresh hole in a new sparse file, so the journal already
  // reads as zeros: lazy_journal_init leaves it sparse (same bytes, 4+ MiB less disk).
  const extended = [`offset=${b.region.offset}`, 'lazy_journal_init=1', ...(b.ids ? [`hash_seed=${b.ids.hashSeed}`] : [])].join(',');
  const ids = b.ids ? ['-U', b.ids.uuid] : [];
  await $({ env: { ...process.env, ...env } })`mke2fs -q -F -t ext4 -b ${b.blockSize} -m ${EXT4_RESERVED_PERCENT} ${inodes} ${ids} -E ${extended} -d ${b.tree.root} ${b.image} ${`${b.region.bytes / 1024}k`}`;
  const device = `${b.image}?offset=${b.region.offset}`;
  const emptyFile = join(b.scratch, 'empty');
  fx.write(emptyFile, '', { mode: 0o644 });
  const script = ext4EditScript(b, emptyFile);
  if (script.length) {
    const scriptFile = join(b.scratch, 'debugfs.cmds');
    fx.write(scriptFile, Buffer.from(script.join('\n') + '\n', 'latin1'));
    const out = await $({ env: { ...process.env, ...env } })`debugfs -w -f ${scriptFile} ${device}`;
    // stderr holds the version banner, then one line per failed request.
    const failed = out.stderr.split('\n').find((l) => l.trim() && !/^debugfs \d/.test(l));
    if (failed) die(`editing the ext4 image failed: ${failed.trim()}`);
  }
  // Upstream runs fsck.ext4 -D -y after filling: optimise directories. Exit 1 = "fixed", fine.
  const fsck = await $({ nothrow: true, env: { ...process.env, ...env } })`e2fsck -f -y -D ${device}`;
  if ((fsck.exitCode ?? 8) > 1) die(`fsck of the new ext4 filesystem failed (exit ${fsck.exitCode}): ${fsck.stdout.trim().split('\n').pop()}`);
}
