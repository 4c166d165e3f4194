// Booting a MEASURED_ROOTFS image the way the Kata runtime does: the
// root_hash_<variant>.txt line image.ts wrote becomes the kernel parameters
// the runtime derives from `kernel_verity_params` — dm-mod.create= for a
// dm-verity device over p1 (data) and p2 (hash tree), and root=/dev/dm-0.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { VerityParams } from '../image/verity.ts';
import { die } from '../core/log.ts';
import type { BootMedia } from './qemu.ts';

const SECTOR = 512;
const HEX = /^[0-9a-f]+$/i;

/** Parse a root_hash_<variant>.txt line: root_hash=..,salt=..,data_blocks=..,data_block_size=..,hash_block_size=.. */
export function parseVerityParams(line: string, source: string): VerityParams {
  const fields = new Map<string, string>();
  for (const kv of line.trim().split(',')) {
    const at = kv.indexOf('=');
    if (at > 0) fields.set(kv.slice(0, at).trim(), kv.slice(at + 1).trim());
  }
  const need = (key: string) =>
    fields.get(key) || die(`${source}: no ${key}= in "${line.trim()}": give the root_hash_<variant>.txt image.ts wrote beside the image`);
  const count = (key: string, multipleOf: number) => {
    const v = need(key);
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n > 0) || n % multipleOf !== 0) die(`${source}: ${key}=${v} is not a positive multiple of ${multipleOf}`);
    return n;
  };
  const hex = (key: string) => {
    const v = need(key);
    if (!HEX.test(v) || v.length % 2) die(`${source}: ${key}=${v} is not a hex string`);
    return v;
  };
  const mode = fields.get('mode');
  if (mode && mode !== 'kernelinit') die(`${source}: mode=${mode}: only the kernelinit format (dm-mod.create=) can be booted`);
  return {
    rootHash: hex('root_hash'),
    salt: hex('salt'),
    dataBlocks: count('data_blocks', 1),
    dataBlockSize: count('data_block_size', SECTOR),
    hashBlockSize: count('hash_block_size', SECTOR),
  };
}

export function readVerityParams(file: string): VerityParams {
  return parseVerityParams(readFileSync(file, 'utf8'), file);
}

/** Data and hash partitions as the runtime names them. */
function verityDevices(media: BootMedia): [string, string] {
  return media === 'nvdimm' ? ['/dev/pmem0p1', '/dev/pmem0p2'] : ['/dev/vda1', '/dev/vda2'];
}

/**
 * The kernel parameters the Kata runtime builds from kernel_verity_params
 * (the root parameters replaced): no DAX on a dm device, so the same
 * rootflags on NVDIMM and virtio.
 */
export function verityRootParams(p: VerityParams, media: BootMedia, fsType: string): string {
  const [data, hash] = verityDevices(media);
  const sectors = (p.dataBlockSize / SECTOR) * p.dataBlocks;
  const table = `dm-verity,,,ro,0 ${sectors} verity 1 ${data} ${hash} ${p.dataBlockSize} ${p.hashBlockSize} ${p.dataBlocks} 0 sha256 ${p.rootHash} ${p.salt}`;
  const flags = fsType === 'ext4' ? 'data=ordered,errors=remount-ro ro' : 'ro';
  return `dm-mod.create="${table}" root=/dev/dm-0 rootflags=${flags} rootfstype=${fsType}`;
}

/**
 * The root hash file for a measured image, beside it: the one
 * root_hash_*.txt whose data covers exactly the root partition
 * (`rootBytes`). Several candidates that fit: the caller must name one.
 */
export function findRootHashFile(image: string, rootBytes: number, hint = 'give one with -v FILE'): string {
  const dir = dirname(image);
  const candidates = readdirSync(dir).filter((f) => /^root_hash_.*\.txt$/.test(f)).sort();
  if (!candidates.length) {
    die(`${image} is a measured image (a dm-verity hash partition) but no root_hash_<variant>.txt is beside it: ${hint}`);
  }
  const fits = candidates.filter((f) => {
    try {
      const p = readVerityParams(join(dir, f));
      return p.dataBlocks * p.dataBlockSize === rootBytes;
    } catch {
      return false;
    }
  });
  if (fits.length !== 1) {
    const why = fits.length ? `${fits.join(', ')} all fit` : `none of ${candidates.join(', ')} fits its ${rootBytes}-byte root partition`;
    die(`${basename(image)}: ${why}: ${hint === 'give one with -v FILE' ? 'name its root hash file with -v FILE' : hint}`);
  }
  return join(dir, fits[0]!);
}

/** The kernel's complaint when a block fails verification. */
export const VERITY_CORRUPTION = /device-mapper: verity: [^\n]*is corrupted/;

/** The shim's dm-create could not create the device (the shim then powers off). */
export const DM_CREATE_ERROR = /dm-create: error: [^\n]*/;
