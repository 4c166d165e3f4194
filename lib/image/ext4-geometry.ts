// What a fresh `mkfs.ext4 -b BLOCK_SIZE` (Debian's mke2fs.conf defaults, ext4
// feature set) leaves free, computed instead of formatting: block groups,
// sparse superblock backups, reserved GDT blocks for online resize, inode
// tables (from the size's inode ratio, or mke2fs -N's count), the journal,
// the root and lost+found directories. Checked against real mke2fs in test/image/size.test.ts.

const DESC_SIZE_64BIT = 64;
const INODE_SIZE = 256;
const FIRST_INO = 11;
const LOST_AND_FOUND_BYTES = 16 * 1024;
/** Max blocks an initialized extent maps; four extents fit in the inode. */
const EXTENT_MAX_BLOCKS = 32768;
const EXTENTS_IN_INODE = 4;

interface Ext4Geometry {
  blocks: number;
  groups: number;
  inodes: number;
  inodesPerGroup: number;
  journalBlocks: number;
  freeBlocks: number;
}

/** mke2fs.conf "size type" inode ratio for a filesystem of `bytes`. */
export function inodeRatio(bytes: number): number {
  const MB = 1024 * 1024;
  if (bytes < 3 * MB) return 8192; // floppy
  if (bytes < 512 * MB) return 4096; // small
  if (bytes < 4 * 1024 * 1024 * MB) return 16384; // default
  if (bytes < 16 * 1024 * 1024 * MB) return 32768; // big
  return 65536; // huge
}

/** ext2fs_default_journal_size, in blocks (4 KiB-block thresholds). */
function defaultJournalBlocks(blocks: number): number {
  if (blocks < 2048) return 0;
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  if (blocks < 8192 * 1024) return 32768;
  if (blocks < 16384 * 1024) return 65536;
  if (blocks < 32768 * 1024) return 131072;
  return 262144;
}

/** Groups holding a superblock backup with sparse_super: 0, 1 and powers of 3, 5, 7. */
export function groupHasSuper(g: number): boolean {
  if (g <= 1) return true;
  if (g % 2 === 0) return false;
  for (const base of [3, 5, 7]) {
    let n = g;
    while (n % base === 0) n /= base;
    if (n === 1) return true;
  }
  return false;
}

const divCeil = (a: number, b: number) => Math.floor((a + b - 1) / b);

/**
 * ext2fs_initialize's layout loop: a last group too small for its metadata is
 * dropped; when that leaves more inodes per group than a bitmap holds, the
 * blocks per group shrink by 8 and the full size is tried again.
 */
export function ext4Geometry(partitionBytes: number, blockSize: number, inodeCount?: number): Ext4Geometry {
  const firstDataBlock = blockSize === 1024 ? 1 : 0;
  const descPerBlock = blockSize / DESC_SIZE_64BIT;
  const paramBlocks = Math.floor(partitionBytes / blockSize);
  // mke2fs -N asks for a count; otherwise the size type's bytes-per-inode ratio gives it.
  const inodesWanted = Math.max(inodeCount ?? Math.floor((paramBlocks * blockSize) / inodeRatio(paramBlocks * blockSize)), FIRST_INO + 1);
  let blocksPerGroup = blockSize * 8;
  let blocks = paramBlocks;

  for (;;) {
    const groups = divCeil(blocks - firstDataBlock, blocksPerGroup);
    const descBlocks = divCeil(groups, descPerBlock);
    let ipg = divCeil(inodesWanted, groups);
    if (ipg > blockSize * 8) {
      blocksPerGroup -= 8;
      blocks = paramBlocks;
      continue;
    }
    const itableBlocks = divCeil(ipg * INODE_SIZE, blockSize);
    ipg = Math.floor((itableBlocks * blockSize) / INODE_SIZE) & ~7;
    // calc_reserved_gdt_blocks: room to grow to 1024x (or 2^32 blocks).
    const maxBlocks = blocks < Math.floor(0xffffffff / 1024) ? blocks * 1024 : 0xffffffff;
    const rsvGroups = divCeil(maxBlocks - firstDataBlock, blocksPerGroup);
    const rsvGdt = Math.min(divCeil(rsvGroups, descPerBlock) - descBlocks, blockSize / 4);
    const superOverhead = 1 + descBlocks + rsvGdt;
    const rem = (blocks - firstDataBlock) % blocksPerGroup;
    const lastOverhead = 2 + itableBlocks + (groupHasSuper(groups - 1) ? superOverhead : 0);
    if (rem && rem < lastOverhead + 50) {
      blocks -= rem;
      continue;
    }
    let metadata = 0;
    for (let g = 0; g < groups; g++) metadata += 2 + itableBlocks + (groupHasSuper(g) ? superOverhead : 0);
    const journalBlocks = defaultJournalBlocks(blocks);
    const journalIndexBlocks = divCeil(journalBlocks, EXTENT_MAX_BLOCKS) > EXTENTS_IN_INODE ? 1 : 0;
    const rootDir = 1;
    const lostAndFound = Math.max(2, divCeil(LOST_AND_FOUND_BYTES, blockSize));
    const resizeInode = rsvGdt > 0 ? 1 : 0;
    const used = firstDataBlock + metadata + journalBlocks + journalIndexBlocks + rootDir + lostAndFound + resizeInode;
    return { blocks, groups, inodes: ipg * groups, inodesPerGroup: ipg, journalBlocks, freeBlocks: blocks - used };
  }
}
