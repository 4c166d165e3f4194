// Where the seconds of the image's sha256 (the SBOM beside it) go: on a
// 1 GiB file with a tenth of it data and the rest holes (as an ext4 image of
// a small tree is), and on a 1 GiB file all data, both in the page cache as
// a just-built image is: reading alone, hashing alone (the same bytes from
// memory, no read), sha256OfFile (one after the other) and
// sha256OfSparseFile, which the SBOM uses (the data extents read, the holes
// hashed from zeros). Whatever the reads cost, SHA-256 must still digest
// every zero: hashing from memory is the floor.
// Usage: npm run bench:image-hash [-- --runs N]
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { sha256OfFile } from '../lib/core/file-read.ts';
import { sha256OfSparseFile } from '../lib/core/sparse-hash.ts';
import { median, seconds } from './timing.ts';

const args = minimist(process.argv.slice(2), { string: ['runs'] });
const runs = Number(args.runs ?? 3);
const GiB = 1 << 30;
const scratch = mkdtempSync('/var/tmp/bench-image-hash-');

/** A 1 GiB file with `dataMiB` of random bytes in 1 MiB runs spread through it. */
function file(name: string, dataMiB: number): string {
  const path = join(scratch, name);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, GiB);
  const chunk = Buffer.alloc(1 << 20);
  const stride = Math.floor(1024 / dataMiB);
  for (let i = 0; i < dataMiB; i++) writeSync(fd, randomFillSync(chunk), 0, chunk.length, i * stride * chunk.length);
  closeSync(fd);
  return path;
}

function readAll(path: string): void {
  const buf = Buffer.alloc(4 << 20);
  const fd = openSync(path, 'r');
  while (readSync(fd, buf, 0, buf.length, null) > 0);
  closeSync(fd);
}

function hashFromMemory(): void {
  const buf = Buffer.alloc(4 << 20);
  const h = createHash('sha256');
  for (let i = 0; i < GiB / buf.length; i++) h.update(buf);
  h.digest();
}

try {
  for (const [what, path] of [['1 GiB, 10 % data', file('sparse.img', 102)], ['1 GiB, all data', file('full.img', 1024)]] as const) {
    readAll(path); // into the page cache, as a just-written image is
    const m = async (fn: () => unknown) => {
      const xs: number[] = [];
      for (let i = 0; i < runs; i++) xs.push(await seconds(async () => fn()));
      return median(xs);
    };
    const read = await m(() => readAll(path));
    const hash = await m(() => hashFromMemory());
    const whole = await m(() => sha256OfFile(path));
    const sparse = await m(() => sha256OfSparseFile(path));
    console.log(`${what}: read ${read.toFixed(2)} s, hash from memory ${hash.toFixed(2)} s, sha256OfFile (read, then hash) ${whole.toFixed(2)} s, sha256OfSparseFile (the SBOM's) ${sparse.toFixed(2)} s (medians of ${runs})`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
