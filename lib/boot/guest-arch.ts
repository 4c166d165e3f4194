// Which architecture a guest and a kernel are for, so that boot.ts picks the
// right QEMU and refuses a kernel of another architecture. The guest's comes
// from the summary file rootfs.ts writes (var/lib/osbuilder/osbuilder.yaml,
// `architecture:`): read from an initrd's cpio, or from an ext4 image with
// debugfs. The kernel's from its header.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type Arch, elfArch, isArch } from '../core/arch.ts';
import { $ } from '../core/exec.ts';

const SUMMARY = 'var/lib/osbuilder/osbuilder.yaml';

/** `architecture:` of a summary file. */
export function summaryArch(yaml: string): Arch | undefined {
  const value = yaml.match(/^architecture:\s*"?([^"\n]+?)"?\s*$/m)?.[1];
  return value && isArch(value) ? value : undefined;
}

/** The architecture recorded in an initrd (gzip, zstd or plain newc). */
export async function initrdArch(path: string): Promise<Arch | undefined> {
  const out = await $({ nothrow: true, quiet: true })`(zstd -dcq ${path} 2>/dev/null || gzip -dc ${path} 2>/dev/null || cat ${path}) | cpio -i --quiet --to-stdout ${SUMMARY}`;
  return summaryArch(out.stdout);
}

/** The architecture recorded in the ext4 filesystem at `offset` of a disk image (undefined for xfs/erofs). */
export async function imageArch(path: string, offset: number): Promise<Arch | undefined> {
  const out = await $({ nothrow: true, quiet: true })`debugfs -R ${`cat /${SUMMARY}`} ${`${path}?offset=${offset}`}`;
  return summaryArch(out.stdout);
}

function head(path: string, bytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

const PE_MACHINES: Record<number, Arch> = { 0x8664: 'x86_64', 0xaa64: 'aarch64' };
const ARM64_IMAGE_MAGIC = 0x644d5241; // "ARM\x64" at byte 56 of an arm64 Image

/** The architecture of a kernel image from its header; undefined when the format is not known here. */
export function kernelArchOf(image: Buffer): Arch | undefined {
  if (image[0] === 0x1f && image[1] === 0x8b) {
    try {
      return kernelArchOf(gunzipSync(image));
    } catch {
      return undefined;
    }
  }
  const elf = elfArch(image);
  if (elf) return elf;
  if (image.length >= 0x206 && image.toString('latin1', 0x202, 0x206) === 'HdrS') return 'x86_64';
  if (image.length >= 60 && image.readUInt32LE(56) === ARM64_IMAGE_MAGIC) return 'aarch64';
  if (image.length >= 0x40 && image.toString('latin1', 0, 2) === 'MZ') {
    const pe = image.readUInt32LE(0x3c);
    if (pe + 6 <= image.length && image.toString('latin1', pe, pe + 4) === 'PE\0\0') return PE_MACHINES[image.readUInt16LE(pe + 4)];
  }
  if (image.length >= 0x1000e && image.toString('latin1', 0x10008, 0x1000e) === 'S390EP') return 's390x';
  return undefined;
}

/** kernelArchOf() of a file (a gzip-compressed kernel is read whole). */
export function kernelArch(path: string): Arch | undefined {
  const start = head(path, 0x20000);
  return kernelArchOf(start[0] === 0x1f && start[1] === 0x8b ? readFileSync(path) : start);
}
