// Where everything sits in a Kata disk image (SPEC §4), as pure arithmetic:
//
//   with the DAX header          without (SKIP_DAX_HEADER=yes)
//   0      MBR #1 (p1 at 3 MiB)  0      MBR (p1 at 1 MiB)
//   4 KiB  PFN info block        1 MiB  filesystem
//   2 MiB  MBR #2 (p1 at +1 MiB) ...    [hash partition, MEASURED_ROOTFS]
//   3 MiB  filesystem            end    1 MiB unpartitioned
//   ...    [hash partition]
//   end    1 MiB unpartitioned
//
// The DAX header is 2 MiB placed in front of an image that is itself laid out
// like the header-less one; MBR #2 describes that inner image, MBR #1 the
// same bytes from the start of the file.
import { SECTOR, type MbrPartition } from './mbr.ts';

export const MiB = 1024 * 1024;
/** MBR #1 + PFN block, in front of the inner image. */
export const DAX_HEADER_MB = 2;
/** DAX huge-page alignment, recorded in the PFN block. */
export const DAX_ALIGNMENT_MB = 2;
/** First partition of the inner image. */
export const ROOTFS_START_MB = 1;
/** Left unpartitioned at the end of the inner image. */
export const TAIL_MB = 1;

export interface LayoutOptions {
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

/** The smallest inner image (MiB) whose root partition holds `rootMb`. */
export function innerMbFor(rootMb: number): number {
  return ROOTFS_START_MB + rootMb + TAIL_MB;
}

export function imageLayout({ imageMb, daxHeader, measured }: LayoutOptions): ImageLayout {
  const headerMb = daxHeader ? DAX_HEADER_MB : 0;
  const innerMb = imageMb - headerMb;
  const endMb = innerMb - TAIL_MB;
  const rootEndMb = measured ? hashStartMb(innerMb) : endMb;
  if (rootEndMb <= ROOTFS_START_MB || (measured && endMb <= rootEndMb)) {
    throw new Error(`an image of ${imageMb} MiB is too small for its partitions`);
  }
  const sectors = (mb: number) => (mb * MiB) / SECTOR;
  const inner: MbrPartition[] = [
    { start: sectors(ROOTFS_START_MB), sectors: sectors(rootEndMb - ROOTFS_START_MB), ...(measured ? { bootable: true } : {}) },
  ];
  if (measured) inner.push({ start: sectors(rootEndMb), sectors: sectors(endMb - rootEndMb) });
  const shift = (parts: MbrPartition[]) => parts.map((p) => ({ ...p, start: p.start + sectors(headerMb) }));
  const region = (mb0: number, mb1: number): Region => ({ offset: (headerMb + mb0) * MiB, bytes: (mb1 - mb0) * MiB });
  return {
    imageBytes: imageMb * MiB,
    root: region(ROOTFS_START_MB, rootEndMb),
    ...(measured ? { hash: region(rootEndMb, endMb) } : {}),
    mbr1: daxHeader ? shift(inner) : inner,
    ...(daxHeader ? { mbr2: inner, pfnDataOffset: DAX_HEADER_MB * MiB } : {}),
  };
}
