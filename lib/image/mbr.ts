// Master boot record with primary partitions, as `parted mklabel msdos` on an
// image file writes it (CHS from parted's file geometry, 4 heads x 32 sectors).

export const SECTOR = 512;
const MBR_SIGNATURE_OFFSET = 440; // disk identifier, le32
const PARTITION_TABLE_OFFSET = 446;
const PARTITION_ENTRY_SIZE = 16;
const BOOT_SIGNATURE_OFFSET = 510; // 0x55 0xaa

const PARTITION_TYPE_LINUX = 0x83;
const STATUS_BOOTABLE = 0x80;

// Geometry parted reports for a regular file.
const HEADS = 4;
const SECTORS_PER_TRACK = 32;
const MAX_CYLINDER = 1023;

export interface MbrPartition {
  /** First sector (LBA). */
  start: number;
  /** Length in sectors. */
  sectors: number;
  type?: number;
  bootable?: boolean;
}

/** The 3 CHS bytes (head, sector|cyl-high, cyl-low) for an LBA. */
export function chsBytes(lba: number): [number, number, number] {
  let cyl = Math.floor(lba / (HEADS * SECTORS_PER_TRACK));
  let head = Math.floor(lba / SECTORS_PER_TRACK) % HEADS;
  let sector = (lba % SECTORS_PER_TRACK) + 1;
  if (cyl > MAX_CYLINDER) {
    cyl = MAX_CYLINDER;
    head = HEADS - 1;
    sector = SECTORS_PER_TRACK;
  }
  return [head, (sector & 0x3f) | ((cyl >> 2) & 0xc0), cyl & 0xff];
}

/** A 512-byte MBR: zero boot code, the disk identifier, up to 4 partitions. */
export function mbrSector(partitions: MbrPartition[], diskSignature: number): Buffer {
  if (partitions.length > 4) throw new Error('an MBR holds at most 4 primary partitions');
  const mbr = Buffer.alloc(SECTOR);
  mbr.writeUInt32LE(diskSignature >>> 0, MBR_SIGNATURE_OFFSET);
  partitions.forEach((p, i) => {
    const last = p.start + p.sectors - 1;
    if (p.start < 1 || p.sectors < 1 || last > 0xffffffff) throw new Error(`partition ${i + 1} does not fit an MBR`);
    const e = PARTITION_TABLE_OFFSET + i * PARTITION_ENTRY_SIZE;
    mbr[e] = p.bootable ? STATUS_BOOTABLE : 0;
    mbr.set(chsBytes(p.start), e + 1);
    mbr[e + 4] = p.type ?? PARTITION_TYPE_LINUX;
    mbr.set(chsBytes(last), e + 5);
    mbr.writeUInt32LE(p.start, e + 8);
    mbr.writeUInt32LE(p.sectors, e + 12);
  });
  mbr[BOOT_SIGNATURE_OFFSET] = 0x55;
  mbr[BOOT_SIGNATURE_OFFSET + 1] = 0xaa;
  return mbr;
}

/** True when `sector` (the first of a disk, maybe short) ends in the MBR boot signature 0x55 0xaa. */
export function hasBootSignature(sector: Uint8Array): boolean {
  return sector.length >= SECTOR && sector[BOOT_SIGNATURE_OFFSET] === 0x55 && sector[BOOT_SIGNATURE_OFFSET + 1] === 0xaa;
}

/** Parse the primary partition entries of an MBR (none without the boot signature). */
export function readMbrPartitions(mbr: Uint8Array): Required<MbrPartition>[] {
  if (!hasBootSignature(mbr)) return [];
  const buf = Buffer.from(mbr.buffer, mbr.byteOffset, SECTOR);
  const out: Required<MbrPartition>[] = [];
  for (let i = 0; i < 4; i++) {
    const e = PARTITION_TABLE_OFFSET + i * PARTITION_ENTRY_SIZE;
    const type = buf[e + 4]!;
    if (type === 0) continue;
    out.push({ start: buf.readUInt32LE(e + 8), sectors: buf.readUInt32LE(e + 12), type, bootable: buf[e] === STATUS_BOOTABLE });
  }
  return out;
}
