// The "newc" cpio format (magic 070701) the kernel unpacks as an initramfs:
// a 110-byte ASCII header per entry, the NUL-terminated name, the body, each
// padded to 4 bytes; "TRAILER!!!" ends the archive. Field names follow the
// kernel's init/initramfs.c and usr/gen_init_cpio.c.

const NEWC_MAGIC = '070701';
export const NEWC_HEADER_SIZE = 110;
const TRAILER_NAME = 'TRAILER!!!';

// st_mode file type bits
export const S_IFMT = 0o170000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;

const MAX_FIELD = 0xffffffff;

/** One header's fields (c_magic and c_check are fixed for newc). */
export interface NewcHeader {
  c_ino: number;
  c_mode: number;
  c_uid: number;
  c_gid: number;
  c_nlink: number;
  c_mtime: number;
  c_filesize: number;
  c_devmajor: number;
  c_devminor: number;
  c_rdevmajor: number;
  c_rdevminor: number;
}

const FIELD_ORDER: (keyof NewcHeader)[] = [
  'c_ino', 'c_mode', 'c_uid', 'c_gid', 'c_nlink', 'c_mtime', 'c_filesize',
  'c_devmajor', 'c_devminor', 'c_rdevmajor', 'c_rdevminor',
];

/** Zero bytes needed after `n` bytes to reach a 4-byte boundary. */
export function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function hex8(value: number, field: string, name: Buffer): string {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) {
    throw new RangeError(`cpio: ${field}=${value} of "${name.toString()}" does not fit the newc format (32 bits)`);
  }
  return value.toString(16).padStart(8, '0');
}

/** Header + name + padding, ready to be followed by `c_filesize` body bytes. */
export function encodeNewcHeader(h: NewcHeader, name: Buffer | string): Buffer {
  const nameBytes = typeof name === 'string' ? Buffer.from(name) : name;
  const namesize = nameBytes.length + 1;
  let ascii = NEWC_MAGIC;
  for (const f of FIELD_ORDER) ascii += hex8(h[f], f, nameBytes);
  ascii += hex8(namesize, 'c_namesize', nameBytes) + '00000000'; // c_check: 0 without CRC
  const total = NEWC_HEADER_SIZE + namesize;
  const out = Buffer.alloc(total + pad4(total));
  out.write(ascii, 0, 'latin1');
  nameBytes.copy(out, NEWC_HEADER_SIZE);
  return out;
}

/** The closing entry of every archive. */
export function encodeTrailer(): Buffer {
  return encodeNewcHeader(
    { c_ino: 0, c_mode: 0, c_uid: 0, c_gid: 0, c_nlink: 1, c_mtime: 0, c_filesize: 0,
      c_devmajor: 0, c_devminor: 0, c_rdevmajor: 0, c_rdevminor: 0 },
    TRAILER_NAME,
  );
}

/** One member of a parsed archive. */
export interface NewcMember extends NewcHeader {
  name: string;
  body: Buffer;
}

/** Parse an uncompressed newc archive (up to and excluding the trailer). */
export function parseNewc(archive: Buffer): NewcMember[] {
  const members: NewcMember[] = [];
  let off = 0;
  for (;;) {
    if (off + NEWC_HEADER_SIZE > archive.length) throw new Error(`cpio: truncated header at byte ${off}`);
    const magic = archive.toString('latin1', off, off + 6);
    if (magic !== NEWC_MAGIC) throw new Error(`cpio: bad magic "${magic}" at byte ${off}`);
    const field = (i: number) => parseInt(archive.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const h = Object.fromEntries(FIELD_ORDER.map((f, i) => [f, field(i)])) as unknown as NewcHeader;
    const namesize = field(11);
    const nameStart = off + NEWC_HEADER_SIZE;
    const name = archive.toString('utf8', nameStart, nameStart + namesize - 1);
    const bodyStart = nameStart + namesize + pad4(NEWC_HEADER_SIZE + namesize);
    if (name === TRAILER_NAME) return members;
    const body = archive.subarray(bodyStart, bodyStart + h.c_filesize);
    if (body.length !== h.c_filesize) throw new Error(`cpio: truncated body of "${name}"`);
    members.push({ ...h, name, body });
    off = bodyStart + h.c_filesize + pad4(h.c_filesize);
  }
}

/** Linux dev_t split as glibc's major()/minor() do. */
export function devMajor(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}

export function devMinor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}
