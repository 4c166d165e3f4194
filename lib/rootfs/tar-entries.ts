// The entry list of a tar archive (ustar, GNU long names, pax headers), read
// from the decompressed stream without extracting anything, so that an
// archive can be judged before a single file of it is written.
import { closeSync, openSync, readSync } from 'node:fs';
import { $ } from '../core/exec.ts';
import { die } from '../core/log.ts';

export type TarCompression = 'zstd' | 'gzip' | 'none';

export interface TarEntry {
  name: string;
  /** ustar typeflag: '0' file, '1' hard link, '2' symlink, '3'/'4' devices, '5' directory, '6' fifo. */
  type: string;
  /** Symlink or hard link target. */
  linkName: string;
}

const BLOCK = 512;

/** The compression of a tarball, from its first bytes (not its name). */
export function tarCompression(path: string, variable: string): TarCompression {
  const head = Buffer.alloc(BLOCK);
  let got = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      got = readSync(fd, head, 0, BLOCK, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    die(`${variable}=${path} cannot be read (${(e as NodeJS.ErrnoException).code}): give a readable .tar.zst, .tar.gz or .tar`);
  }
  if (head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (got === BLOCK && head.toString('latin1', 257, 262) === 'ustar') return 'none';
  return die(`${variable}=${path} is not a tar archive (zstd, gzip or plain): give a .tar.zst, .tar.gz or .tar`);
}

/** A stream consumer that keeps no copy of the output (zx stores stdout unless told otherwise). */
class Discard extends Array<string | Buffer> {
  override push(): number {
    return 0;
  }
}

/** The decompressed bytes of the archive, chunk by chunk. */
async function* tarBytes(path: string, compression: TarCompression): AsyncGenerator<Buffer> {
  const store = { stdout: new Discard(), stderr: [], stdall: new Discard() };
  const p =
    compression === 'zstd' ? $({ quiet: true, nothrow: true, store })`zstd -dcq ${path}`
    : compression === 'gzip' ? $({ quiet: true, nothrow: true, store })`gzip -dc ${path}`
    : $({ quiet: true, nothrow: true, store })`cat ${path}`;
  for await (const chunk of p.stdout) yield chunk as Buffer;
  const out = await p;
  if (out.exitCode !== 0) die(`cannot decompress ${path} (exit ${out.exitCode}): ${out.stderr.trim().split('\n').pop() ?? ''}`);
}

/** A NUL-terminated header field. */
function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.toString('utf8', 0, end < 0 ? length : end);
}

/** A numeric field: octal text, or GNU base-256 when the top bit is set. */
function numeric(header: Buffer, offset: number, length: number): number {
  if (header[offset]! & 0x80) {
    let n = header[offset]! & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + header[offset + i]!;
    return n;
  }
  const text = field(header, offset, length).trim();
  return text ? parseInt(text, 8) : 0;
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return sum === numeric(header, 148, 8);
}

/** pax extended header records: `LEN key=value\n`. */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number(data.toString('latin1', at, space));
    if (!len) break;
    const record = data.toString('utf8', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += len;
  }
  return out;
}

/** Every entry of the archive, in archive order. */
export async function readTarEntries(path: string, compression: TarCompression): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  let buf: Buffer = Buffer.alloc(0);
  /** Bytes of entry data still to skip, or to collect for a metadata entry. */
  let skip = 0;
  let collect: { type: string; size: number; data: Buffer[] } | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  let ended = false;
  for await (const chunk of tarBytes(path, compression)) {
    if (ended) continue;
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (!ended) {
      if (skip > 0 || collect) {
        const n = Math.min(skip, buf.length);
        if (collect) collect.data.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        skip -= n;
        if (skip > 0) break;
        if (collect) {
          const data = Buffer.concat(collect.data).subarray(0, collect.size);
          if (collect.type === 'L') longName = field(data, 0, data.length);
          else if (collect.type === 'K') longLink = field(data, 0, data.length);
          else if (collect.type === 'x') pax = paxRecords(data);
          collect = undefined;
        }
      }
      if (buf.length < BLOCK) break;
      const header = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (header.every((b) => b === 0)) {
        ended = true;
        break;
      }
      if (!checksumOk(header)) die(`${path} is not a valid tar archive (bad header checksum after ${entries.length} entries): rebuild it with tar`);
      const type = String.fromCharCode(header[156]!) === '\0' ? '0' : String.fromCharCode(header[156]!);
      const size = type !== 'x' && pax.has('size') ? Number(pax.get('size')) : numeric(header, 124, 12);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (['L', 'K', 'x'].includes(type)) {
        collect = { type, size, data: [] };
        skip = padded;
        continue;
      }
      // Links, devices, directories and fifos carry no data, whatever their size field says.
      skip = ['1', '2', '3', '4', '5', '6'].includes(type) ? 0 : padded;
      if (type === 'g') continue; // global pax header: defaults only, no entry
      const prefix = field(header, 345, 155);
      // Only POSIX ustar ("ustar\0") has the name prefix; GNU's "ustar " keeps other fields there.
      const ustarName = prefix && header.toString('latin1', 257, 263) === 'ustar\0' ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);
      entries.push({
        name: pax.get('path') ?? longName ?? ustarName,
        type,
        linkName: pax.get('linkpath') ?? longLink ?? field(header, 157, 100),
      });
      longName = longLink = undefined;
      pax = new Map();
    }
  }
  return entries;
}
