// Device nodes into an erofs image without mknod (a user namespace may not
// make them, and the rootfs is only read): mkfs.erofs 1.5 packs an empty
// regular file in each node's place, then this turns each into the node
// in the image file — the inode's type bits, its rdev, its owner, and the
// directory entry's file type. Everything else mkfs.erofs lays out for an
// empty file is what it lays out for a device (no data, same inode size),
// so the image is the one mkfs.erofs would write from real nodes (tested).
// The superblock's checksum covers the rest of block 0, where the first
// inodes live: it is computed again.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { die } from '../core/log.ts';
import { devMajor, devMinor } from '../initrd/cpio.ts';
import type { TreeEntry } from './tree.ts';
import { nodeModeBits } from '../core/device-nodes.ts';

const SUPERBLOCK = 1024;
const EROFS_MAGIC = 0xe0f5e1e2;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
/** Directory entry file types. */
const FT = { file: 1, char: 3, block: 4 } as const;
const LAYOUT_PLAIN = 0;
const COMPAT_SB_CHKSUM = 1;
const LAYOUT_INLINE = 2;

const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

/** The kernel's crc32c(seed, ...): reflected Castagnoli, no final inversion. */
export function crc32c(seed: number, data: Buffer): number {
  let c = seed >>> 0;
  for (const byte of data) c = (CRC32C_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8)) >>> 0;
  return c;
}

interface Inode {
  at: number;
  extended: boolean;
  layout: number;
  mode: number;
  size: number;
  /** i_u: block address of a plain or inline file's data, a device's rdev. */
  u: number;
  xattrIcount: number;
}

class ErofsFile {
  private readonly fd: number;
  private readonly blockSize: number;
  private readonly metaAt: number;
  readonly rootNid: number;

  constructor(path: string) {
    this.fd = openSync(path, 'r+');
    const sb = this.read(SUPERBLOCK, 128);
    if (sb.readUInt32LE(0) !== EROFS_MAGIC) die(`${path} is not an erofs image (no magic at 1024)`);
    this.blockSize = 2 ** sb.readUInt8(12);
    this.rootNid = sb.readUInt16LE(14);
    this.metaAt = sb.readUInt32LE(40) * this.blockSize;
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The superblock checksum as the kernel verifies it: block 0 from the superblock on, the field itself zero. */
  superblockChecksum(): { stored: number; computed: number } | undefined {
    const rest = this.read(SUPERBLOCK, this.blockSize - SUPERBLOCK);
    if (!(rest.readUInt32LE(8) & COMPAT_SB_CHKSUM)) return undefined;
    const stored = rest.readUInt32LE(4);
    rest.writeUInt32LE(0, 4);
    return { stored, computed: crc32c(0xffffffff, rest) };
  }

  read(at: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    readSync(this.fd, buf, 0, length, at);
    return buf;
  }

  write(at: number, buf: Buffer): void {
    writeSync(this.fd, buf, 0, buf.length, at);
  }

  inode(nid: number): Inode {
    const at = this.metaAt + nid * 32;
    const b = this.read(at, 64);
    const format = b.readUInt16LE(0);
    const extended = (format & 1) === 1;
    return {
      at, extended, layout: (format >> 1) & 7, mode: b.readUInt16LE(4),
      size: extended ? Number(b.readBigUInt64LE(8)) : b.readUInt32LE(8), u: b.readUInt32LE(16), xattrIcount: b.readUInt16LE(2),
    };
  }

  /** A directory's entries: name, child nid, and where its file-type byte is. */
  entries(dir: Inode): { name: string; nid: number; typeAt: number }[] {
    if ((dir.mode & S_IFMT) !== S_IFDIR) die('erofs: expected a directory inode');
    if (dir.layout !== LAYOUT_PLAIN && dir.layout !== LAYOUT_INLINE) die(`erofs: directory data layout ${dir.layout} is not one this patcher reads`);
    const out: { name: string; nid: number; typeAt: number }[] = [];
    const fullBlocks = dir.layout === LAYOUT_PLAIN ? Math.ceil(dir.size / this.blockSize) : Math.floor(dir.size / this.blockSize);
    const blocks: [at: number, length: number][] = [];
    for (let i = 0; i < fullBlocks; i++) blocks.push([dir.u * this.blockSize + i * this.blockSize, Math.min(this.blockSize, dir.size - i * this.blockSize)]);
    const tail = dir.size - fullBlocks * this.blockSize;
    if (dir.layout === LAYOUT_INLINE && tail > 0) {
      const xattrs = dir.xattrIcount ? 12 + (dir.xattrIcount - 1) * 4 : 0;
      blocks.push([dir.at + (dir.extended ? 64 : 32) + xattrs, tail]);
    }
    for (const [at, length] of blocks) {
      const block = this.read(at, length);
      const count = block.readUInt16LE(8) / 12;
      for (let i = 0; i < count; i++) {
        const nameoff = block.readUInt16LE(i * 12 + 8);
        let end = i + 1 < count ? block.readUInt16LE((i + 1) * 12 + 8) : length;
        const nul = block.indexOf(0, nameoff);
        if (i + 1 === count && nul >= 0 && nul < end) end = nul;
        out.push({ name: block.subarray(nameoff, end).toString('latin1'), nid: Number(block.readBigUInt64LE(i * 12)), typeAt: at + i * 12 + 10 });
      }
    }
    return out;
  }
}

/** erofs's device number encoding (the kernel's new_encode_dev). */
const erofsDev = (rdev: number) => {
  const major = devMajor(rdev);
  const minor = devMinor(rdev);
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
};

/** Turn the empty files mkfs.erofs packed at `nodes`' paths into the device nodes. */
export function retypeErofsStandIns(image: string, nodes: TreeEntry[]): void {
  if (!nodes.length) return;
  const fs = new ErofsFile(image);
  try {
    const before = fs.superblockChecksum();
    if (before && before.stored !== before.computed) die(`erofs: ${image} as mkfs.erofs wrote it fails its superblock checksum`);
    for (const node of nodes) {
      const names = node.rel.split('/');
      let dir = fs.inode(fs.rootNid);
      let found: { nid: number; typeAt: number } | undefined;
      for (const [i, name] of names.entries()) {
        found = fs.entries(dir).find((e) => e.name === name);
        if (!found) die(`erofs: /${node.rel} is not in the image mkfs.erofs wrote`);
        if (i + 1 < names.length) dir = fs.inode(found.nid);
      }
      const ino = fs.inode(found!.nid);
      if ((ino.mode & S_IFMT) !== S_IFREG || ino.size !== 0 || ino.layout !== LAYOUT_PLAIN || fs.read(found!.typeAt, 1)[0] !== FT.file) {
        die(`erofs: /${node.rel} in the image is not the empty file put in its place`);
      }
      const type = nodeModeBits(node.type);
      const mode = Buffer.alloc(2);
      mode.writeUInt16LE(type | node.perm);
      fs.write(ino.at + 4, mode);
      const u = Buffer.alloc(4);
      u.writeUInt32LE(erofsDev(node.rdev));
      fs.write(ino.at + 16, u);
      if (ino.extended) {
        const ids = Buffer.alloc(8);
        ids.writeUInt32LE(node.uid, 0);
        ids.writeUInt32LE(node.gid, 4);
        fs.write(ino.at + 24, ids);
      } else {
        if (node.uid > 0xffff || node.gid > 0xffff) die(`erofs: /${node.rel}'s owner ${node.uid}:${node.gid} needs an extended inode`);
        const ids = Buffer.alloc(4);
        ids.writeUInt16LE(node.uid, 0);
        ids.writeUInt16LE(node.gid, 2);
        fs.write(ino.at + 24, ids);
      }
      fs.write(found!.typeAt, Buffer.from([node.type === 'char' ? FT.char : FT.block]));
    }
    const after = fs.superblockChecksum();
    if (after) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(after.computed);
      fs.write(SUPERBLOCK + 4, b);
    }
  } finally {
    fs.close();
  }
}
