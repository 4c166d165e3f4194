// One-pass sizing: the image size upstream's trial-and-error loop would pick
// (format candidate sizes du+10, du+20, ... MiB until the empty filesystem
// shows more free space than `du` of the rootfs), computed from the tree
// instead of formatting and mounting 20 images. Same size means the same free
// space; a check of what the tree needs in the new filesystem (per-file block
// rounding, directories, inodes, sparse files by their allocated blocks)
// grows the image only where upstream would have run out of space, by the
// whole shortfall at once (fitImageMb); ext4 gets mke2fs -N when the tree has
// more files than the size's inode ratio gives.
import { ext4Geometry, inodeRatio } from './ext4-geometry.ts';
import { die } from '../core/log.ts';
import { DAX_HEADER_MB, hashStartMb, MiB, ROOTFS_START_MB } from './layout.ts';
import { isLaterHardLink, type TreeEntry } from './tree.ts';

export const SIZE_TRIES = 20;
export const SIZE_INCREMENT_MB = 10;
export const EXT4_RESERVED_PERCENT = 3;
/** ext4's own reserve (s_resv_clusters): 2% of the blocks, at most 4096. */
const EXT4_RESV_CLUSTERS_MAX = 4096;
/** Symlink targets up to this length live in the inode. */
const FAST_SYMLINK_MAX = 59;
/** Bytes of a directory entry: 8-byte header + name, 4-byte aligned (+ 12 for the csum tail per block). */
const dirEntryBytes = (name: string) => (8 + Buffer.byteLength(name) + 3) & ~3;

/** `df -BM` available space of a freshly made ext4 (tune2fs -m 3), in MiB, rounded up as df does. */
export function ext4AvailableMb(partitionBytes: number, blockSize: number): number {
  const g = ext4Geometry(partitionBytes, blockSize);
  const reserved = Math.floor((EXT4_RESERVED_PERCENT * g.blocks) / 100);
  const resv = Math.min(Math.floor(g.blocks / 50), EXT4_RESV_CLUSTERS_MAX);
  const avail = Math.max(g.freeBlocks - resv - reserved, 0);
  return Math.ceil((avail * blockSize) / MiB);
}

/**
 * Upstream's calculate_required_disk_size: the first candidate whose free
 * space beats du. Each candidate is partitioned as the image will be: p1
 * from 1 MiB to the end, or, measured, to 99% of the candidate.
 */
export async function requiredDiskMb(
  duMb: number,
  availableMb: (partitionBytes: number) => number | Promise<number>,
  tries = SIZE_TRIES,
  measured = false,
): Promise<number | undefined> {
  for (let i = 1; i <= tries; i++) {
    const diskMb = duMb + i * SIZE_INCREMENT_MB;
    const partitionMb = (measured ? hashStartMb(diskMb) : diskMb) - ROOTFS_START_MB;
    if ((await availableMb(partitionMb * MiB)) > duMb) return diskMb;
  }
  return undefined;
}

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

interface SizeInputs {
  duBytes: number;
  rootFreeSpaceMb: number;
  alignmentMb: number;
  daxHeader: boolean;
}

/** Upstream's calculate_img_size, given the required disk size (its reserve is rootfs_start + DAX header + rootfs_end = -1). */
export function imageMbFor(diskMb: number, { rootFreeSpaceMb, alignmentMb, daxHeader }: Omit<SizeInputs, 'duBytes'>): number {
  return alignUp(diskMb + (daxHeader ? DAX_HEADER_MB : 0) + rootFreeSpaceMb, alignmentMb);
}

/** Bytes of missing data below which a file counts as whole (tails, inline data, host rounding). */
const HOLE_MIN_BYTES = 1024 * 1024;

/**
 * Data blocks a file takes in the new filesystem. A filler that keeps holes
 * (mke2fs -d, cp --sparse) allocates only what the host allocated when the
 * file is visibly sparse; otherwise every block of its size is written.
 */
export function fileDataBlocks(e: Pick<TreeEntry, 'size' | 'allocated'>, blockSize: number, keepsHoles: boolean): number {
  const full = Math.ceil(e.size / blockSize);
  if (!keepsHoles || e.size - e.allocated < HOLE_MIN_BYTES) return full;
  return Math.min(full, Math.ceil(e.allocated / blockSize));
}

/** A bound on a file's extents: one per data run, so at most one per allocated block when sparse. */
export function fileExtents(e: Pick<TreeEntry, 'size' | 'allocated'>, blockSize: number, keepsHoles: boolean, maxExtentBlocks: number): number {
  const blocks = fileDataBlocks(e, blockSize, keepsHoles);
  const whole = Math.ceil(blocks / maxExtentBlocks);
  return blocks < Math.ceil(e.size / blockSize) ? Math.max(whole, blocks + 1) : whole;
}

interface Ext4Needs {
  blocks: number;
  inodes: number;
}

/** Inode numbers ext4 keeps for itself (1-10) plus lost+found. */
const EXT4_RESERVED_INODES = 11;

/** Blocks and inodes the tree takes in a new ext4 (mke2fs -d, which keeps holes), a safe upper bound. */
export function ext4Needs(entries: TreeEntry[], blockSize: number, extraFiles = 0): Ext4Needs {
  const seen = new Set<string>();
  const dirBytes = new Map<string, number>();
  let blocks = 0;
  let inodes = extraFiles;
  for (const e of entries) {
    if (e.type === 'dir' && !dirBytes.has(e.rel)) dirBytes.set(e.rel, 24);
    if (e.rel) {
      const slash = e.rel.lastIndexOf('/');
      const parent = slash < 0 ? '' : e.rel.slice(0, slash);
      dirBytes.set(parent, (dirBytes.get(parent) ?? 24) + dirEntryBytes(e.rel.slice(slash + 1)));
    }
    if (isLaterHardLink(e, seen, ['file'])) continue;
    inodes++;
    if (e.type === 'file') {
      // Extent tree: 4 extents in the inode, 340 per index block; mke2fs
      // writes contiguously, so fragmentation comes only from holes.
      const extents = fileExtents(e, blockSize, true, 32768);
      blocks += fileDataBlocks(e, blockSize, true) + (extents > 4 ? Math.ceil(extents / 340) + 1 : 0);
    } else if (e.type === 'symlink' && Buffer.byteLength(e.target ?? '') > FAST_SYMLINK_MAX) {
      blocks += 1;
    }
  }
  for (const bytes of dirBytes.values()) {
    const perBlock = blockSize - 12; // metadata_csum tail
    const n = Math.max(1, Math.ceil(bytes / perBlock));
    blocks += n + (n > 1 ? Math.ceil(n / 500) + 1 : 0); // htree index blocks
  }
  return { blocks: blocks + extraFiles, inodes };
}

/**
 * mke2fs -N for the tree, when the size's default inode ratio gives too few
 * inodes (many small files): the tree's inodes plus, for the space left
 * free, as many as the default ratio would give it.
 */
export function ext4InodeCount(needs: Ext4Needs, partitionBytes: number, blockSize: number): number | undefined {
  const g = ext4Geometry(partitionBytes, blockSize);
  if (needs.inodes <= g.inodes - EXT4_RESERVED_INODES) return undefined;
  const spareBytes = Math.max(g.freeBlocks - needs.blocks, 0) * blockSize;
  return needs.inodes + EXT4_RESERVED_INODES + Math.floor(spareBytes / inodeRatio(partitionBytes));
}

/** Blocks the tree lacks in an ext4 partition of `partitionBytes` (<= 0: it fits). */
export function ext4ShortBlocks(needs: Ext4Needs, partitionBytes: number, blockSize: number): number {
  const g = ext4Geometry(partitionBytes, blockSize, ext4InodeCount(needs, partitionBytes, blockSize));
  return needs.blocks - g.freeBlocks;
}

/** Most rounds fitImageMb takes: each adds the whole shortfall, so one is the rule. */
const FIT_ROUNDS = 4;

/**
 * Grow upstream's pick until the tree fits, adding the computed shortfall
 * (plus the metadata it brings) at once rather than one alignment step a
 * round. Returns the image size in MiB.
 */
export async function fitImageMb(
  startMb: number,
  alignmentMb: number,
  blockSize: number,
  shortBlocks: (imageMb: number) => number | Promise<number>,
): Promise<number> {
  let imageMb = startMb;
  for (let round = 0; round < FIT_ROUNDS; round++) {
    const short = await shortBlocks(imageMb);
    if (short <= 0) return imageMb;
    // A few percent on top for the metadata of the added space (bitmaps, inode tables, btrees).
    imageMb += alignUp(Math.ceil((short * blockSize * 1.03) / MiB) + 1, alignmentMb);
  }
  return (await shortBlocks(imageMb)) <= 0 ? imageMb : die(`could not size the image for this rootfs (still short after ${FIT_ROUNDS} rounds at ${imageMb} MiB)`);
}
