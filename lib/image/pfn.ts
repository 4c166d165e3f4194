// NVDIMM PFN info block (struct nd_pfn_sb, drivers/nvdimm/pfn.h). Written at
// 4 KiB into a Kata image so a guest kernel with NVDIMM/DAX sees the device as
// a pfn namespace whose data starts `dataoff` bytes in (where MBR #2 lives).

export const PFN_INFO_OFFSET = 4096;
export const PFN_INFO_SIZE = 4096;
const PFN_SIG = 'NVDIMM_PFN_INFO';
/** Mode 1 of nd_pfn_sb (0: none, 2: pmem): the struct pages live in RAM. */
export const PFN_MODE_RAM = 1;

// Field offsets inside struct nd_pfn_sb (little endian).
const OFF_SIGNATURE = 0; // u8[16]
// uuid u8[16] at 16 and parent_uuid u8[16] at 32 stay zero.
const OFF_FLAGS = 48; // le32
const OFF_VERSION_MAJOR = 52; // le16
const OFF_VERSION_MINOR = 54; // le16
const OFF_DATAOFF = 56; // le64
const OFF_NPFNS = 64; // le64
const OFF_MODE = 72; // le32
const OFF_START_PAD = 76; // le32
const OFF_END_TRUNC = 80; // le32
const OFF_ALIGN = 84; // le32
export const OFF_CHECKSUM = 4088; // le64, after padding[4000]

interface PfnInfo {
  dataoff: number;
  align: number;
  mode?: number;
  versionMajor?: number;
  versionMinor?: number;
}

/** The kernel's nd_fletcher64 over little-endian 32-bit words. */
export function ndFletcher64(buf: Uint8Array): bigint {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let lo32 = 0;
  let hi32 = 0n;
  for (let i = 0; i + 4 <= buf.byteLength; i += 4) {
    lo32 = (lo32 + view.getUint32(i, true)) >>> 0;
    hi32 = (hi32 + BigInt(lo32)) & 0xffffffffffffffffn;
  }
  return ((hi32 << 32n) | BigInt(lo32)) & 0xffffffffffffffffn;
}

/** The 4096-byte info block, checksum filled in (nd_sb_checksum). */
export function pfnInfoBlock(info: PfnInfo): Buffer {
  const sb = Buffer.alloc(PFN_INFO_SIZE);
  sb.write(PFN_SIG, OFF_SIGNATURE, 'latin1'); // NUL-terminated by the zero fill
  sb.writeUInt32LE(0, OFF_FLAGS);
  sb.writeUInt16LE(info.versionMajor ?? 0, OFF_VERSION_MAJOR);
  sb.writeUInt16LE(info.versionMinor ?? 2, OFF_VERSION_MINOR);
  sb.writeBigUInt64LE(BigInt(info.dataoff), OFF_DATAOFF);
  sb.writeBigUInt64LE(0n, OFF_NPFNS);
  sb.writeUInt32LE(info.mode ?? PFN_MODE_RAM, OFF_MODE);
  sb.writeUInt32LE(0, OFF_START_PAD);
  sb.writeUInt32LE(0, OFF_END_TRUNC);
  sb.writeUInt32LE(info.align, OFF_ALIGN);
  sb.writeBigUInt64LE(ndFletcher64(sb), OFF_CHECKSUM); // checksum field is still zero here
  return sb;
}
