// Reading the MBR of a disk image built by image.ts: partition 1 holds the
// filesystem, partition 2 (MEASURED_ROOTFS) the dm-verity hash tree.
import { closeSync, openSync, readSync } from 'node:fs';
import { hasBootSignature, readMbrPartitions, SECTOR } from '../image/mbr.ts';

export { SECTOR };

export function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export interface Partition { offset: number; bytes: number }

/** Partition `n` (1-4) of an MBR, in bytes; undefined when the slot is empty. */
export function mbrPartition(mbr: Buffer, n: number): Partition | undefined {
  const p = readMbrPartitions(mbr)[n - 1];
  return p?.start && p.sectors ? { offset: p.start * SECTOR, bytes: p.sectors * SECTOR } : undefined;
}

/** Data (p1) and hash (p2) partitions of an image; both undefined without an MBR. */
export function diskPartitions(image: string): { data?: Partition; hash?: Partition } {
  const mbr = readAt(image, 0, SECTOR);
  if (!hasBootSignature(mbr)) return {};
  return { data: mbrPartition(mbr, 1), hash: mbrPartition(mbr, 2) };
}
