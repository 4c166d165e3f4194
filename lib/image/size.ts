// One-pass sizing: the image size upstream's trial-and-error loop would pick
// (format candidate sizes du+10, du+20, ... MiB until the empty filesystem
// shows more free space than `du` of the rootfs), computed from the tree
// instead of formatting and mounting 20 images. Same size means the same free
// space; a check of what the tree needs in the new filesystem (per-file block
// rounding, directories, inodes) grows the image only where upstream would
// have run out of space.
import { ext4Geometry } from './ext4-geometry.ts';
import { DAX_HEADER_MB, MiB, ROOTFS_START_MB, TAIL_MB } from './layout.ts';
import type { TreeEntry } from './tree.ts';

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

/** Upstream's calculate_required_disk_size: the first candidate whose free space beats du. */
export async function requiredDiskMb(
  duMb: number,
  availableMb: (partitionBytes: number) => number | Promise<number>,
  tries = SIZE_TRIES,
): Promise<number | undefined> {
  for (let i = 1; i <= tries; i++) {
    const diskMb = duMb + i * SIZE_INCREMENT_MB;
    const partitionMb = diskMb - ROOTFS_START_MB - TAIL_MB;
    if ((await availableMb(partitionMb * MiB)) > duMb) return diskMb;
  }
  return undefined;
}

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export interface SizeInputs {
  duBytes: number;
  rootFreeSpaceMb: number;
  alignmentMb: number;
  daxHeader: boolean;
}

/** Upstream's calculate_img_size, given the required disk size. */
export function imageMbFor(diskMb: number, { rootFreeSpaceMb, alignmentMb, daxHeader }: Omit<SizeInputs, 'duBytes'>): number {
  const reservedMb = ROOTFS_START_MB + (daxHeader ? DAX_HEADER_MB : 0) - TAIL_MB;
  return alignUp(diskMb + reservedMb + rootFreeSpaceMb, alignmentMb);
}

export interface Ext4Needs {
  blocks: number;
  inodes: number;
}

/** Blocks and inodes the tree takes in a new ext4 (mke2fs -d), a safe upper bound. */
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
    if (e.type === 'file' && e.nlink > 1) {
      const key = `${e.dev}:${e.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    inodes++;
    if (e.type === 'file') {
      const dataBlocks = Math.ceil(e.size / blockSize);
      // Extent tree: 4 extents in the inode, 340 per index block; mke2fs
      // writes contiguously, so fragmentation comes only from holes.
      blocks += dataBlocks + (dataBlocks > 4 * 32768 ? Math.ceil(dataBlocks / 32768 / 340) : 0);
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
