// Minimal tar writer for tests: archives with exactly the names, types,
// fields and link targets a test needs, including ones GNU tar would never
// write (raw size fields, pax global paths, bad checksums, trailing data).
export interface TarSpec {
  name: string;
  /** Type flag: '0' file (default), '1' hard link, '2' symlink, '5' directory, or any other byte ('\0', 'x', 'g', 'L', 'S', ...). */
  type?: string;
  linkName?: string;
  /** Data: written for files, and for any type when given as a Buffer or with `pax`. */
  data?: string | Buffer;
  /** Records of a pax 'x'/'g' header (its data). */
  pax?: Record<string, string>;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  devMajor?: number;
  devMinor?: number;
  /** The raw 12-byte size field, replacing the octal size (the data written stays `data`). */
  sizeField?: Buffer | string;
  /** 'gnu': the GNU magic "ustar  \0" (no name prefix) instead of POSIX "ustar\000". */
  magic?: 'posix' | 'gnu';
  /** A name prefix (POSIX ustar field at 345). */
  prefix?: string;
  badChecksum?: boolean;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** pax records with their length prefix. */
export function paxData(records: Record<string, string>): Buffer {
  return Buffer.concat(Object.entries(records).map(([k, v]) => {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body);
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    return Buffer.from(`${len}${body}`);
  }));
}

/** Recompute the checksum of a 512-byte header in place. */
export function fixChecksum(h: Buffer): void {
  h.write('        ', 148, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

function header(e: TarSpec, size: number): Buffer {
  const h = Buffer.alloc(512);
  const type = e.type ?? '0';
  h.write(e.name, 0, 100, 'utf8');
  h.write(octal(e.mode ?? (type === '5' ? 0o755 : 0o644), 8), 100, 'latin1');
  h.write(octal(e.uid ?? 0, 8), 108, 'latin1');
  h.write(octal(e.gid ?? 0, 8), 116, 'latin1');
  if (e.sizeField !== undefined) Buffer.from(e.sizeField as string, 'latin1').copy(h, 124, 0, 12);
  else h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(e.mtime ?? 1700000000, 12), 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write(e.linkName ?? '', 157, 100, 'utf8');
  h.write(e.magic === 'gnu' ? 'ustar  \0' : 'ustar\0' + '00', 257, 'latin1');
  h.write(octal(e.devMajor ?? 0, 8), 329, 'latin1');
  h.write(octal(e.devMinor ?? 0, 8), 337, 'latin1');
  if (e.prefix) h.write(e.prefix, 345, 155, 'utf8');
  fixChecksum(h);
  if (e.badChecksum) h[148] = h[148] === 0x30 ? 0x31 : 0x30;
  return h;
}

function dataOf(e: TarSpec): Buffer {
  if (e.pax) return paxData(e.pax);
  if (Buffer.isBuffer(e.data)) return e.data;
  return Buffer.from(e.type === undefined || e.type === '0' || e.type === '\0' || e.type === '7' || e.type === 'L' || e.type === 'K' ? e.data ?? '' : '');
}

/** A tar archive of `entries`, ended by two zero blocks, then `trailer` (e.g. garbage after the end). */
export function makeTar(entries: TarSpec[], trailer: Buffer = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = dataOf(e);
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024), trailer);
  return Buffer.concat(parts);
}
