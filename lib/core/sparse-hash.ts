// sha256 of a sparse file (a disk image: mostly holes) without reading the
// holes: the kernel would have to make zero pages for them and copy them
// out, which on a 256 MiB image cost as much as the hashing. The data
// extents come from FIEMAP (`filefrag -s -e`: the file is synced first, so
// no extent is still waiting for allocation); the bytes between them are
// hashed from a buffer of zeros. The mapping is trusted only when it covers
// every block the file has allocated; otherwise (tmpfs, no filefrag, an
// inline or encoded extent) the whole file is read.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { $ } from './exec.ts';
import { sha256OfFile } from './file-read.ts';

const CHUNK = 4 << 20;
const zeros = Buffer.alloc(CHUNK);

export interface Extent {
  /** Byte offset in the file. */
  offset: number;
  bytes: number;
  /** Allocated but never written: reads as zeros. */
  unwritten: boolean;
}

/**
 * The extents of `filefrag -e` output (pure), or undefined when the output
 * is not a FIEMAP listing we can trust (an inline, encoded or delayed extent).
 */
export function parseFilefrag(text: string): Extent[] | undefined {
  const unit = /\(\d+ blocks? of (\d+) bytes\)/.exec(text);
  if (!unit || !/^ ext: +logical_offset:/m.test(text)) return undefined;
  const block = Number(unit[1]);
  const extents: Extent[] = [];
  for (const m of text.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+\d+\.\.\s*\d+:\s+(\d+):[^\n]*?([a-z_,]*)$/gm)) {
    const flags = m[4]!.split(',').filter(Boolean);
    if (flags.some((f) => !['last', 'eof', 'unwritten', 'merged', 'shared'].includes(f))) return undefined;
    extents.push({ offset: Number(m[1]) * block, bytes: Number(m[3]) * block, unwritten: flags.includes('unwritten') });
  }
  return extents;
}

function hashZeros(h: Hash, n: number): void {
  for (; n > 0; n -= CHUNK) h.update(n >= CHUNK ? zeros : zeros.subarray(0, n));
}

function hashRange(h: Hash, fd: number, buf: Buffer, from: number, to: number): void {
  for (let at = from; at < to;) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK, to - at), at);
    if (n <= 0) throw new Error(`short read at ${at}`);
    h.update(buf.subarray(0, n));
    at += n;
  }
}

/** sha256 (hex) of `path`, reading only its data extents when the file system maps them. */
export async function sha256OfSparseFile(path: string): Promise<string> {
  const out = await $({ nothrow: true, quiet: true })`filefrag -s -e ${path}`.catch(() => undefined);
  const extents = out?.exitCode === 0 ? parseFilefrag(out.stdout) : undefined;
  const st = statSync(path);
  const mapped = extents?.reduce((sum, e) => sum + e.bytes, 0);
  // st_blocks also counts the extent tree's own blocks: a little more than the data, never less.
  if (!extents || mapped! > st.blocks * 512 || st.blocks * 512 - mapped! > 1 << 20) return sha256OfFile(path);
  const h = createHash('sha256');
  const buf = Buffer.alloc(CHUNK);
  const fd = openSync(path, 'r');
  try {
    let at = 0;
    for (const e of extents.filter((x) => !x.unwritten).sort((a, b) => a.offset - b.offset)) {
      const from = Math.min(Math.max(e.offset, at), st.size);
      const to = Math.min(e.offset + e.bytes, st.size);
      hashZeros(h, from - at);
      hashRange(h, fd, buf, from, to);
      at = Math.max(at, to);
    }
    hashZeros(h, st.size - at);
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}
