// A compressed erofs needs blocks as large as the guest kernel's pages on
// Linux 6.1, Debian 12's kernel (checked here; later kernels are not
// judged). mkfs.erofs 1.5 writes 4 KiB blocks only, and Debian's ppc64el
// kernel has 64 KiB pages: such an image mounts, then every compressed file
// fails with "Operation not supported" (switch_root cannot run init). Said
// before QEMU starts.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DebianKernel } from './kernel.ts';

/** EROFS_FEATURE_INCOMPAT_LZ4_0PADDING: set by mkfs.erofs whenever it compresses. */
const INCOMPAT_COMPRESSION = 0x1;
const SUPERBLOCK = 1024;
const EROFS_MAGIC = 0xe0f5e1e2;

/** Block size of an erofs from the first 4 KiB of its partition, and whether it compresses files. */
export function erofsLayout(head: Buffer): { blockBytes: number; compressed: boolean } | undefined {
  if (head.length < SUPERBLOCK + 84 || head.readUInt32LE(SUPERBLOCK) !== EROFS_MAGIC) return undefined;
  return {
    blockBytes: 2 ** head[SUPERBLOCK + 12]!,
    compressed: (head.readUInt32LE(SUPERBLOCK + 80) & INCOMPAT_COMPRESSION) !== 0,
  };
}

/** Page size a kernel config selects (4 KiB unless a 16/64 KiB option is set). */
export function configPageBytes(config: string): number {
  if (/^CONFIG_(PAGE_SIZE_64KB|PPC_64K_PAGES|ARM64_64K_PAGES)=y$/m.test(config)) return 64 * 1024;
  if (/^CONFIG_(PAGE_SIZE_16KB|ARM64_16K_PAGES)=y$/m.test(config)) return 16 * 1024;
  return 4096;
}

/** Page size of an unpacked Debian kernel, from boot/config-<release> beside it. */
function debianKernelPageBytes(kernel: DebianKernel): number {
  try {
    return configPageBytes(readFileSync(join(dirname(kernel.vmlinuz), `config-${kernel.release}`), 'utf8'));
  } catch {
    return 4096;
  }
}

const judgedRelease = (release: string) => {
  const [major, minor] = release.split('.').map(Number);
  return major! < 6 || (major === 6 && minor! <= 1);
};

/** Why `kernel` cannot read the erofs whose partition starts with `head`, or undefined when it can (or is not judged). */
export function erofsUnreadableReason(head: Buffer, kernel: DebianKernel): string | undefined {
  if (!judgedRelease(kernel.release)) return undefined;
  const erofs = erofsLayout(head);
  const pageBytes = debianKernelPageBytes(kernel);
  if (!erofs?.compressed || erofs.blockBytes >= pageBytes) return undefined;
  return `its erofs compresses files in ${erofs.blockBytes / 1024} KiB blocks, which kernel ${kernel.release} (${pageBytes / 1024} KiB pages) cannot read`;
}
