// dm-verity hash tree for MEASURED_ROOTFS, written straight into the hash
// partition of the image (what `veritysetup format --no-superblock p1 p2`
// writes, without needing the partitions as block devices). Format version 1,
// sha256, salt prepended; levels stored from the root down.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import type { Region } from './layout.ts';
import { die } from '../core/log.ts';

export const VERITY_BLOCK = 4096;
const DIGEST = 32;
const HASHES_PER_BLOCK = VERITY_BLOCK / DIGEST;

export interface VerityParams {
  rootHash: string;
  salt: string;
  dataBlocks: number;
  dataBlockSize: number;
  hashBlockSize: number;
}

/** Kernel parameter line written to root_hash_<variant>.txt (upstream's format). */
export function verityParamsLine(p: VerityParams): string {
  return `root_hash=${p.rootHash},salt=${p.salt},data_blocks=${p.dataBlocks},data_block_size=${p.dataBlockSize},hash_block_size=${p.hashBlockSize}`;
}

/** Number of hash blocks per level, bottom level first (none for one data block: its hash is the root). */
function verityLevels(dataBlocks: number): number[] {
  const levels: number[] = [];
  for (let n = dataBlocks; n > 1; ) {
    n = Math.ceil(n / HASHES_PER_BLOCK);
    levels.push(n);
  }
  return levels;
}

/** Hash blocks veritysetup writes for `dataBlocks` (every level, down from the one-block top). */
export function verityHashBlocks(dataBlocks: number): number {
  return verityLevels(dataBlocks).reduce((a, b) => a + b, 0);
}

function hashBlock(salt: Buffer, block: Buffer): Buffer {
  return createHash('sha256').update(salt).update(block).digest();
}

/** Hash `data` of `image` into `hash`; returns the parameters. */
export function writeVerityTree(image: string, data: Region, hash: Region, salt: Buffer = randomBytes(32)): VerityParams {
  const dataBlocks = data.bytes / VERITY_BLOCK;
  const levels = verityLevels(dataBlocks);
  const total = verityHashBlocks(dataBlocks);
  if (total * VERITY_BLOCK > hash.bytes) die(`the hash partition (${hash.bytes} bytes) is too small for ${total} hash blocks`);
  // Level i (0 = bottom) sits after all levels above it.
  const levelStart: number[] = [];
  let acc = 0;
  for (let i = levels.length - 1; i >= 0; i--) {
    levelStart[i] = acc;
    acc += levels[i]!;
  }
  const fd = openSync(image, 'r+');
  try {
    const readBlocks = (offset: number, count: number) => {
      const buf = Buffer.alloc(count * VERITY_BLOCK);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return buf;
    };
    // Each level hashes the blocks of the level below (data for level 0).
    let source = { offset: data.offset, blocks: dataBlocks };
    for (let level = 0; level < levels.length; level++) {
      const out = Buffer.alloc(levels[level]! * VERITY_BLOCK);
      const CHUNK = 256;
      for (let b = 0; b < source.blocks; b += CHUNK) {
        const n = Math.min(CHUNK, source.blocks - b);
        const buf = readBlocks(source.offset + b * VERITY_BLOCK, n);
        for (let j = 0; j < n; j++) {
          hashBlock(salt, buf.subarray(j * VERITY_BLOCK, (j + 1) * VERITY_BLOCK)).copy(out, (b + j) * DIGEST);
        }
      }
      const offset = hash.offset + levelStart[level]! * VERITY_BLOCK;
      writeSync(fd, out, 0, out.length, offset);
      source = { offset, blocks: levels[level]! };
    }
    const top = readBlocks(levels.length ? hash.offset : data.offset, 1);
    return {
      rootHash: hashBlock(salt, top).toString('hex'),
      salt: salt.toString('hex'),
      dataBlocks,
      dataBlockSize: VERITY_BLOCK,
      hashBlockSize: VERITY_BLOCK,
    };
  } finally {
    closeSync(fd);
  }
}
