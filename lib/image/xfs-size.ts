// Free space `df` would show on a fresh xfs of a given size, for upstream's
// sizing loop, and what a tree takes in it. The free space comes from an
// empty sparse probe file formatted without a mount, minus the kernel's
// mount-time reservations: the reserve pool (5%, at most 8192 blocks) and the
// per-AG set-aside and btree reservations (measured on this kernel as about
// 4 + agblocks/1000 blocks per AG). xfs needs >= 300 MiB.
import { fx } from '../core/effects.ts';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { MiB } from './layout.ts';
import { fileDataBlocks, fileExtents } from './size.ts';
import { isLaterHardLink, type TreeEntry } from './tree.ts';

export const XFS_MIN_MB = 300;
const RESERVE_POOL_MAX = 8192;
/** mkfs.xfs 6.1 defaults (v5, crc): 512-byte inodes, allocated 64 at a time. */
const INODE_SIZE = 512;
const INODES_PER_CHUNK = 64;
/** Bytes of the inode's literal area (after the 176-byte v3 core) for local data or extents. */
const LITERAL_BYTES = INODE_SIZE - 176;
const EXTENT_BYTES = 16;
/** The most blocks one extent maps (21 bits). */
const EXTENT_MAX_BLOCKS = 2 ** 21;
/** v5 directory data/leaf block header. */
const DIR_HEADER_BYTES = 64;
/** Directory data entry: inode 8, namelen 1, name, ftype 1, tag 2; 8-aligned. */
const dirEntryBytes = (name: string) => (12 + Buffer.byteLength(name) + 7) & ~7;

function xfsAvailableBlocksFromSb(sb: { fdblocks: number; dblocks: number; agcount: number; agblocks: number }): number {
  const pool = Math.min(Math.floor(sb.dblocks / 20), RESERVE_POOL_MAX);
  const perAg = 4 + Math.ceil(sb.agblocks / 1000);
  return Math.max(sb.fdblocks - pool - sb.agcount * perAg, 0);
}

export function xfsAvailableFromSb(sb: { fdblocks: number; dblocks: number; agcount: number; agblocks: number }, blockSize: number): number {
  return Math.ceil((xfsAvailableBlocksFromSb(sb) * blockSize) / MiB);
}

/** Blocks free for files on a fresh xfs of `partitionBytes`, after the mount-time reservations. */
export async function xfsAvailableBlocks(partitionBytes: number, blockSize: number, scratch: string): Promise<number> {
  if (partitionBytes < XFS_MIN_MB * MiB) return 0;
  const probe = join(scratch, 'xfs-probe.img');
  try {
    await $`truncate -s ${partitionBytes} ${probe}`;
    await $`mkfs.xfs -q -f -m reflink=0 -b size=${blockSize} ${probe}`;
    const out = (await $`xfs_db -r -c 'sb 0' -c 'print fdblocks dblocks agcount agblocks' ${probe}`).stdout;
    const get = (k: string) => Number(out.match(new RegExp(`${k} = (\\d+)`))![1]);
    return xfsAvailableBlocksFromSb({ fdblocks: get('fdblocks'), dblocks: get('dblocks'), agcount: get('agcount'), agblocks: get('agblocks') });
  } finally {
    fx.remove(probe, { force: true });
  }
}

export async function xfsAvailableMb(partitionBytes: number, blockSize: number, scratch: string): Promise<number> {
  return Math.ceil(((await xfsAvailableBlocks(partitionBytes, blockSize, scratch)) * blockSize) / MiB);
}

/** Blocks for `n` extents: in the inode while they fit, else a btree of blocks. */
function extentBlocks(n: number, blockSize: number): number {
  if (n * EXTENT_BYTES <= LITERAL_BYTES) return 0;
  const perBlock = Math.floor((blockSize - 72) / EXTENT_BYTES);
  const leaves = Math.ceil(n / perBlock);
  return leaves + Math.ceil(leaves / perBlock) + 1;
}

/**
 * Blocks the tree takes in a new xfs, a safe upper bound: inode chunks, file
 * data (holes kept when the filler keeps them), remote symlinks, directory
 * blocks with their leaf and free-index blocks, one attribute block per file
 * with extended attributes, and a margin for the free-space and inode btrees.
 */
export function xfsNeedsBlocks(entries: TreeEntry[], blockSize: number, o: { keepsHoles: boolean; xattrFiles: number; extraFiles?: number }): number {
  const seen = new Set<string>();
  const dirs = new Map<string, { bytes: number; count: number }>();
  let blocks = 0;
  let inodes = o.extraFiles ?? 0;
  for (const e of entries) {
    if (e.type === 'dir' && !dirs.has(e.rel)) dirs.set(e.rel, { bytes: 0, count: 0 });
    if (e.rel) {
      const slash = e.rel.lastIndexOf('/');
      const parent = slash < 0 ? '' : e.rel.slice(0, slash);
      const d = dirs.get(parent) ?? { bytes: 0, count: 0 };
      d.bytes += dirEntryBytes(e.rel.slice(slash + 1));
      d.count++;
      dirs.set(parent, d);
    }
    if (isLaterHardLink(e, seen, ['file'])) continue;
    inodes++;
    if (e.type === 'file') {
      blocks += fileDataBlocks(e, blockSize, o.keepsHoles) + extentBlocks(fileExtents(e, blockSize, o.keepsHoles, EXTENT_MAX_BLOCKS), blockSize);
    } else if (e.type === 'symlink' && Buffer.byteLength(e.target ?? '') > LITERAL_BYTES) {
      blocks += 1;
    }
  }
  const usable = blockSize - DIR_HEADER_BYTES;
  for (const { bytes, count } of dirs.values()) {
    if (bytes + 6 * count <= LITERAL_BYTES) continue; // short form, in the inode
    const data = Math.ceil((bytes + 2 * 16) / usable); // plus '.' and '..'
    const leaf = data > 1 || bytes + 8 * count + 16 > usable ? Math.ceil((8 * count) / usable) + Math.ceil(data / (usable / 2)) + 1 : 0;
    blocks += data + leaf + extentBlocks(data + leaf, blockSize); // worst case: every block its own extent
  }
  blocks += Math.ceil(inodes / INODES_PER_CHUNK) * Math.ceil((INODES_PER_CHUNK * INODE_SIZE) / blockSize);
  blocks += o.xattrFiles;
  return blocks + Math.ceil(blocks / 100) + 64;
}
