// Reading a tar archive exactly, for an unpacker that writes what it read and
// nothing else: ustar, GNU long names and link names ('L'/'K'), pax extended
// ('x') and global ('g') headers. Every field is checked strictly, so no
// other reader could take the archive differently: a bad checksum, a number
// with stray characters, a negative or base-256 size, data after the end, a
// global path, a sparse file, an unknown type are each refused by name.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { $ } from '../core/exec.ts';
import { die } from '../core/log.ts';

export type TarCompression = 'zstd' | 'gzip' | 'none';
export type EntryKind = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** The name as the archive gives it (pax path, GNU long name or ustar prefix/name). */
  name: string;
  kind: EntryKind;
  /** Symlink target (a guest path) or hard link target (an archive name). */
  linkName: string;
  /** Permission bits, setuid/setgid/sticky included. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (pax may give a fraction). */
  mtime: number;
  /** Bytes of data (regular files only). */
  size: number;
  devMajor: number;
  devMinor: number;
}

/** An archive refused: `entry` is the entry it concerns, when one is known. */
export class TarRefusal extends Error {
  constructor(
    readonly entry: string | undefined,
    readonly why: string,
  ) {
    super(why);
  }
}

const BLOCK = 512;
const MAX_META = 1 << 20;
const MAX_ID = 0xfffffffe;
const KINDS: Record<string, EntryKind> = { '0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };
const TYPE_NAMES: Record<string, string> = {
  S: 'a GNU sparse file', D: 'a GNU dumpdir', M: 'a GNU multi-volume continuation', V: 'a GNU volume label', N: 'an old GNU long-name entry',
};
const utf8 = new TextDecoder('utf-8', { fatal: true });

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

/** The decompressed bytes of the archive, chunk by chunk (decompressing is not interpreting: zstd or zlib do it). */
export async function* tarBytes(path: string, compression: TarCompression): AsyncGenerator<Buffer> {
  if (compression !== 'zstd') {
    const file = createReadStream(path, { highWaterMark: 1 << 20 });
    if (compression === 'none') {
      yield* file as AsyncIterable<Buffer>;
      return;
    }
    const gunzip = createGunzip();
    file.on('error', (e) => gunzip.destroy(e));
    file.pipe(gunzip);
    try {
      yield* gunzip as AsyncIterable<Buffer>;
    } catch (e) {
      throw new TarRefusal(undefined, `cannot be decompressed (gzip: ${(e as Error).message})`);
    } finally {
      file.destroy();
    }
    return;
  }
  const store = { stdout: new Discard(), stderr: [], stdall: new Discard() };
  const p = $({ quiet: true, nothrow: true, store })`zstd -dcq ${path}`;
  let finished = false;
  try {
    for await (const chunk of p.stdout) yield chunk as Buffer;
    const out = await p;
    finished = true;
    if (out.exitCode !== 0) throw new TarRefusal(undefined, `cannot be decompressed (zstd exit ${out.exitCode}: ${out.stderr.trim().split('\n').pop() ?? ''})`);
  } finally {
    if (!finished) {
      p.kill();
      await p.catch(() => undefined);
    }
  }
}

/** Exact reads over a stream of chunks. */
class ByteSource {
  private queue: Buffer[] = [];
  private have = 0;
  private done = false;
  /** Bytes consumed so far. */
  offset = 0;

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.have < n && !this.done) {
      const r = await this.chunks.next();
      if (r.done) this.done = true;
      else if (r.value.length) {
        this.queue.push(r.value);
        this.have += r.value.length;
      }
    }
    return this.have >= n;
  }

  /** Exactly n bytes, or undefined at the end of the stream. */
  async take(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.queue[0]!;
      const part = head.length <= need ? this.queue.shift()! : head.subarray(0, need);
      if (part !== head) this.queue[0] = head.subarray(need);
      parts.push(part);
      need -= part.length;
    }
    this.have -= n;
    this.offset += n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** Hand n bytes to `sink` chunk by chunk; false when the stream ends first. */
  async pass(n: number, sink: (chunk: Buffer) => void): Promise<boolean> {
    while (n > 0) {
      if (!this.queue.length && !(await this.fill(1))) return false;
      const head = this.queue[0]!;
      const part = head.length <= n ? this.queue.shift()! : head.subarray(0, n);
      if (part !== head) this.queue[0] = head.subarray(n);
      this.have -= part.length;
      this.offset += part.length;
      n -= part.length;
      sink(part);
    }
    return true;
  }

  /** True when everything left is zero bytes (padding after the end of the archive). */
  async restIsZero(): Promise<boolean> {
    for (;;) {
      for (const b of this.queue) if (!isZero(b)) return false;
      this.queue = [];
      this.have = 0;
      if (this.done || !(await this.fill(1))) return true;
    }
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Text of a NUL-terminated field: valid UTF-8 or refused. */
function text(raw: Buffer, what: string, entry: string | undefined): string {
  const end = raw.indexOf(0);
  try {
    return utf8.decode(end < 0 ? raw : raw.subarray(0, end));
  } catch {
    throw new TarRefusal(entry, `has a ${what} that is not valid UTF-8`);
  }
}

/** A numeric field: octal digits (leading spaces, then NUL/space to the end), or a positive GNU base-256 number. */
function numeric(h: Buffer, off: number, len: number, what: string, entry: string): number {
  const f = h.subarray(off, off + len);
  if (f[0]! & 0x80) {
    if (f[0] !== 0x80) throw new TarRefusal(entry, `has a negative or malformed base-256 ${what} field`);
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + f[i]!;
    if (!Number.isSafeInteger(n)) throw new TarRefusal(entry, `has a ${what} too large to be real`);
    return n;
  }
  let i = 0;
  while (i < len && f[i] === 0x20) i++;
  const start = i;
  while (i < len && f[i]! >= 0x30 && f[i]! <= 0x37) i++;
  const digits = f.toString('latin1', start, i);
  const rest = f.subarray(i);
  if (!digits || rest.some((b) => b !== 0 && b !== 0x20)) {
    throw new TarRefusal(entry, `has a malformed ${what} field ${JSON.stringify(f.toString('latin1'))} (octal digits then NUL or space expected)`);
  }
  return parseInt(digits, 8);
}

function checksumOk(h: Buffer, entry: string): boolean {
  const stored = numeric(h, 148, 8, 'checksum', entry);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 32 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** pax records `LEN key=value\n`, each checked; a key given twice is refused. */
function paxRecords(data: Buffer, entry: string): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const lenText = space < 0 ? '' : data.toString('latin1', at, space);
    const len = /^[1-9][0-9]{0,9}$/.test(lenText) ? Number(lenText) : 0;
    if (!len || at + len > data.length || data[at + len - 1] !== 0x0a) throw new TarRefusal(entry, `has a malformed pax record at byte ${at} of its pax header`);
    let record: string;
    try {
      record = utf8.decode(data.subarray(space + 1, at + len - 1));
    } catch {
      throw new TarRefusal(entry, `has a pax record that is not valid UTF-8`);
    }
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarRefusal(entry, `has a malformed pax record ${JSON.stringify(record.slice(0, 60))}`);
    const key = record.slice(0, eq);
    if (out.has(key)) throw new TarRefusal(entry, `has the pax key ${key} twice in one header`);
    out.set(key, record.slice(eq + 1));
    at += len;
  }
  return out;
}

function paxNumber(value: string, key: string, entry: string, fraction = false): number {
  if (!(fraction ? /^[0-9]{1,16}(\.[0-9]{1,9})?$/ : /^[0-9]{1,16}$/).test(value)) throw new TarRefusal(entry, `has a malformed pax ${key} ${JSON.stringify(value)}`);
  const n = Number(value);
  if (!Number.isFinite(n) || n > Number.MAX_SAFE_INTEGER) throw new TarRefusal(entry, `has a pax ${key} too large to be real`);
  return n;
}

/** Keys of a global header that would rename or resize every later entry: no honest archive has them. */
const GLOBAL_REFUSED = ['path', 'linkpath', 'size'];

function checkPaxKeys(records: Map<string, string>, entry: string, global: boolean): void {
  for (const key of records.keys()) {
    if (key.startsWith('GNU.sparse.')) throw new TarRefusal(entry, `is a GNU sparse file (pax ${key}): sparse files are not unpacked; rebuild the tarball without --sparse`);
    if (global && GLOBAL_REFUSED.includes(key)) throw new TarRefusal(entry, `has a pax global header setting ${key} for every later entry`);
  }
}

/** Called for each entry; returns where its data goes (regular files), or nothing to skip it. */
export type EntryHandler = (entry: TarEntry) => ((chunk: Buffer) => void) | undefined;

/**
 * Read the whole archive, calling `onEntry` for each entry in order. Throws
 * TarRefusal for anything not read exactly (truncation included), so a caller
 * that writes only after this returns never writes a refused archive.
 */
export async function readTar(bytes: AsyncIterable<Buffer>, onEntry: EntryHandler): Promise<number> {
  const src = new ByteSource(bytes[Symbol.asyncIterator]());
  let global = new Map<string, string>();
  let pax: Map<string, string> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let previous: string | undefined;
  let count = 0;
  const where = () => `the header at byte ${src.offset - BLOCK}${previous === undefined ? '' : ` (after entry ${previous})`}`;
  const truncated = () => new TarRefusal(undefined, `is truncated${previous === undefined ? '' : ` after entry ${previous}`} (no end-of-archive blocks)`);
  const metadata = async (size: number, label: string): Promise<Buffer> => {
    if (size > MAX_META) throw new TarRefusal(where(), `is a ${label} of ${size} bytes`);
    const data = await src.take(Math.ceil(size / BLOCK) * BLOCK);
    if (!data) throw truncated();
    return data.subarray(0, size);
  };
  for (;;) {
    const h = await src.take(BLOCK);
    if (!h) throw truncated();
    if (isZero(h)) {
      if (pax || longName !== undefined || longLink !== undefined) throw new TarRefusal(undefined, `ends right after a long-name or pax header${previous === undefined ? '' : ` (after entry ${previous})`}`);
      const second = await src.take(BLOCK);
      if (!second) throw truncated();
      if (!isZero(second)) throw new TarRefusal(undefined, `has a lone zero block followed by more data at byte ${src.offset - 2 * BLOCK}`);
      if (!(await src.restIsZero())) throw new TarRefusal(undefined, `has data after its end-of-archive blocks`);
      return count;
    }
    const label = where();
    const magic = h.toString('latin1', 257, 265);
    const gnu = magic === 'ustar  \0';
    if (!gnu && magic !== 'ustar\x0000') throw new TarRefusal(label, 'is not a ustar, GNU or pax header');
    if (!checksumOk(h, label)) throw new TarRefusal(label, 'has a bad checksum');
    const flag = h[156] === 0 ? '0' : String.fromCharCode(h[156]!);
    const metaSize = () => numeric(h, 124, 12, 'size', label);
    if (flag === 'L' || flag === 'K') {
      if ((flag === 'L' ? longName : longLink) !== undefined) throw new TarRefusal(label, `is a second GNU long-${flag === 'L' ? 'name' : 'link'} header for one entry`);
      const value = text(await metadata(metaSize(), 'GNU long name'), 'GNU long name', label);
      if (flag === 'L') longName = value;
      else longLink = value;
      continue;
    }
    if (flag === 'x' || flag === 'g') {
      if (flag === 'x' && pax) throw new TarRefusal(label, 'is a second pax header for one entry');
      const records = paxRecords(await metadata(metaSize(), 'pax header'), label);
      checkPaxKeys(records, label, flag === 'g');
      if (flag === 'x') pax = records;
      else global = new Map([...global, ...records]);
      continue;
    }
    const kind = KINDS[flag];
    const prefix = gnu ? '' : text(h.subarray(345, 500), 'name prefix', label);
    const headerName = text(h.subarray(0, 100), 'name', label);
    const ustarName = prefix ? `${prefix}/${headerName}` : headerName;
    if (pax?.has('path') && longName !== undefined) throw new TarRefusal(ustarName, 'has both a GNU long name and a pax path');
    const name = pax?.get('path') ?? longName ?? ustarName;
    if (!kind) throw new TarRefusal(name, TYPE_NAMES[flag] ? `is ${TYPE_NAMES[flag]} (type '${flag}'), which is not unpacked` : `has the unknown entry type ${JSON.stringify(flag)}`);
    if (pax) checkPaxKeys(pax, name, false);
    if (pax?.has('linkpath') && longLink !== undefined) throw new TarRefusal(name, 'has both a GNU long link name and a pax linkpath');
    const linkName = pax?.get('linkpath') ?? longLink ?? text(h.subarray(157, 257), 'link name', name);
    const size = numeric(h, 124, 12, 'size', name);
    const value = (key: string, off: number, len: number, fraction = false) => {
      const v = pax?.get(key) ?? global.get(key);
      return v !== undefined ? paxNumber(v, key, name, fraction) : numeric(h, off, len, key, name);
    };
    const entry: TarEntry = {
      name,
      kind,
      linkName,
      mode: numeric(h, 100, 8, 'mode', name) & 0o7777,
      uid: value('uid', 108, 8),
      gid: value('gid', 116, 8),
      mtime: value('mtime', 136, 12, true),
      size: pax?.has('size') ? paxNumber(pax.get('size')!, 'size', name) : size,
      devMajor: kind === 'char' || kind === 'block' ? numeric(h, 329, 8, 'device major', name) : 0,
      devMinor: kind === 'char' || kind === 'block' ? numeric(h, 337, 8, 'device minor', name) : 0,
    };
    if (entry.uid > MAX_ID || entry.gid > MAX_ID) throw new TarRefusal(name, `has an owner ${entry.uid}:${entry.gid} beyond the largest id ${MAX_ID}`);
    if (kind !== 'file' && entry.size !== 0) throw new TarRefusal(name, `is a ${kind} with a size of ${entry.size} bytes (only files carry data)`);
    if (kind !== 'hardlink' && kind !== 'symlink' && linkName !== '') throw new TarRefusal(name, `is a ${kind} with a link name (${linkName})`);
    const sink = onEntry(entry);
    if (entry.size) {
      if (!(await src.pass(entry.size, sink ?? (() => {})))) throw truncated();
      const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
      if (pad && !(await src.take(pad))) throw truncated();
    }
    count++;
    previous = name;
    pax = longName = longLink = undefined;
  }
}
