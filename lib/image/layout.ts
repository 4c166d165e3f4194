// Where everything sits in a Kata disk image, as pure arithmetic; upstream
// main's image_builder.sh layout (msdos label, last partition to the last
// sector):
//
//   with the DAX header          without (SKIP_DAX_HEADER=yes)
//   0      MBR #1 (p1 at 3 MiB)  0      MBR (p1 at 1 MiB)
//   4 KiB  PFN info block        1 MiB  filesystem (p1)
//   2 MiB  MBR #2 (p1 at +1 MiB) H      [hash partition p2, MEASURED_ROOTFS]
//   3 MiB  filesystem (p1)       end    last sector of p1 (p2 when measured)
//   ...    [hash partition p2]
//   end    last sector of p1 (p2 when measured)
//
// The DAX header is 2 MiB placed in front of an image that is itself laid out
// like the header-less one; MBR #2 describes that inner image, MBR #1 the
// same bytes from the start of the file. Measured: the hash partition starts
// at H = 99% of the inner image in whole MiB (upstream's split); an image
// whose split would not hold the hash tree is grown (fittingImageMb), as is a
// DAX image that is not a whole number of 2 MiB pages.
import { SECTOR, type MbrPartition } from './mbr.ts';
import { VERITY_BLOCK, verityHashBlocks } from './verity.ts';

export const MiB = 1024 * 1024;
/** MBR #1 + PFN block, in front of the inner image. */
export const DAX_HEADER_MB = 2;
/** DAX huge-page alignment, recorded in the PFN block. */
export const DAX_ALIGNMENT_MB = 2;
/** First partition of the inner image. */
export const ROOTFS_START_MB = 1;

interface LayoutOptions {
  /** Total image size in MiB. */
  imageMb: number;
  daxHeader: boolean;
  /** Add a dm-verity hash partition after the root partition. */
  measured: boolean;
}

export interface Region {
  offset: number;
  bytes: number;
}

export interface ImageLayout {
  imageBytes: number;
  /** The root filesystem partition. */
  root: Region;
  /** The dm-verity hash partition (MEASURED_ROOTFS). */
  hash?: Region;
  /** MBR at offset 0. */
  mbr1: MbrPartition[];
  /** MBR at 2 MiB (DAX header only). */
  mbr2?: MbrPartition[];
  /** PFN info block data offset (DAX header only). */
  pfnDataOffset?: number;
}

/** Hash partition start in the inner image, as upstream computes it (99% of the size, in whole MiB). */
export function hashStartMb(innerMb: number): number {
  return Math.floor((innerMb * 99) / 100);
}

/** Bytes of the dm-verity hash tree over a root partition of `rootMb` (4096-byte blocks, sha256). */
export function hashTreeBytes(rootMb: number): number {
  return verityHashBlocks((rootMb * MiB) / VERITY_BLOCK) * VERITY_BLOCK;
}

/** Upstream's 99% split of an inner image: a non-empty root partition and a hash partition that holds its tree. */
function splitHolds(innerMb: number): boolean {
  const h = hashStartMb(innerMb);
  return h > ROOTFS_START_MB && (innerMb - h) * MiB >= hashTreeBytes(h - ROOTFS_START_MB);
}

/**
 * The smallest image of at least `imageMb` (growing in steps of `stepMb`)
 * that can be laid out: with the DAX header a whole number of 2 MiB pages (a
 * guest kernel refuses a PFN namespace whose end is not aligned: "resource end
 * misaligned"), measured with upstream's split holding the hash tree.
 */
export function fittingImageMb(imageMb: number, { daxHeader, measured }: Omit<LayoutOptions, 'imageMb'>, stepMb = 1): number {
  const headerMb = daxHeader ? DAX_HEADER_MB : 0;
  let mb = imageMb;
  for (;;) {
    if (daxHeader) mb = Math.ceil(mb / DAX_ALIGNMENT_MB) * DAX_ALIGNMENT_MB;
    if (!measured || splitHolds(mb - headerMb)) return mb;
    mb += stepMb;
  }
}

export function imageLayout({ imageMb, daxHeader, measured }: LayoutOptions): ImageLayout {
  const headerMb = daxHeader ? DAX_HEADER_MB : 0;
  const innerMb = imageMb - headerMb;
  const rootEndMb = measured ? hashStartMb(innerMb) : innerMb;
  if (rootEndMb <= ROOTFS_START_MB || (measured && !splitHolds(innerMb))) {
    throw new Error(`an image of ${imageMb} MiB is too small for its partitions`);
  }
  const sectors = (mb: number) => (mb * MiB) / SECTOR;
  const inner: MbrPartition[] = [
    { start: sectors(ROOTFS_START_MB), sectors: sectors(rootEndMb - ROOTFS_START_MB), ...(measured ? { bootable: true } : {}) },
  ];
  if (measured) inner.push({ start: sectors(rootEndMb), sectors: sectors(innerMb - rootEndMb) });
  // MBR #1 names the bytes MBR #2 does, shifted by the header (upstream
  // recomputes 99% of the whole image for MBR #1, which disagrees with MBR #2
  // by 1 MiB when the size ends in 01 or 02).
  const shift = (parts: MbrPartition[]) => parts.map((p) => ({ ...p, start: p.start + sectors(headerMb) }));
  const region = (mb0: number, mb1: number): Region => ({ offset: (headerMb + mb0) * MiB, bytes: (mb1 - mb0) * MiB });
  return {
    imageBytes: imageMb * MiB,
    root: region(ROOTFS_START_MB, rootEndMb),
    ...(measured ? { hash: region(rootEndMb, innerMb) } : {}),
    mbr1: daxHeader ? shift(inner) : inner,
    ...(daxHeader ? { mbr2: inner, pfnDataOffset: DAX_HEADER_MB * MiB } : {}),
  };
}
