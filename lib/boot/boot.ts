// Boot a built guest (disk image or initrd) in QEMU and watch the console for
// the agent's marker. Without an explicit kernel, the Debian cloud kernel is
// used; a disk boot then goes through the shim initramfs that loads its
// virtio/NVDIMM/xfs/erofs modules.
import { statSync, existsSync } from 'node:fs';
import { shimInitramfs } from './shim.ts';
import { debianKernel, hostBootArch } from './kernel.ts';
import { type Arch } from '../core/arch.ts';
import { BOOT_ARCHES, QEMU_PACKAGES } from './arch.ts';
import { haveCommand } from '../core/exec.ts';
import { busyboxFor } from './busybox.ts';
import { erofsUnreadableReason } from './erofs-pages.ts';
import { imageArch, initrdArch, kernelArch } from './guest-arch.ts';
import { die, info } from '../core/log.ts';
import { type BootMedia, qemuArgs, runQemu } from './qemu.ts';
import { SECTOR, mbrPartition, readAt } from './partitions.ts';
import { hasBootSignature } from '../image/mbr.ts';
import { type ExtensionSpec, EXTENSION_REFUSAL, extensionKernelParams, extensionQemuArgs, resolveExtensions } from './extensions.ts';
import { DM_CREATE_ERROR, VERITY_CORRUPTION, findRootHashFile, readVerityParams, verityRootParams } from './verity.ts';

/** What the test agent (test/agent/test-agent.c) prints when it is up. */
export const DEFAULT_MARKER = 'KATA-TEST-AGENT-READY';

export const DEFAULT_TIMEOUT_SECONDS = 180;

export { mbrPartition };

/** What a file to boot is, from its first sector: a disk image or an initrd. */
export function bootKindOf(head: Buffer): 'image' | 'initrd' | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'initrd'; // gzip
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'initrd'; // zstd
  if (head.toString('latin1', 0, 6) === '070701') return 'initrd'; // uncompressed newc
  if (hasBootSignature(head)) return 'image';
  return undefined;
}

/** bootKindOf() for a file. */
export function bootKindOfFile(path: string): 'image' | 'initrd' | undefined {
  return bootKindOf(readAt(path, 0, SECTOR));
}

type RootFsType = 'ext4' | 'xfs' | 'erofs';

interface BootOptions {
  image?: string;
  initrd?: string;
  media?: BootMedia;
  kernel?: string;
  timeoutSeconds?: number;
  marker?: string;
  /** Guest architecture; default: the summary file's in the initrd or ext4 image, else the host's. */
  arch?: Arch;
  /** Root filesystem type; default: detected from the first partition of MBR #1. */
  rootFsType?: RootFsType;
  /**
   * root_hash_<variant>.txt of a measured image (one with a hash partition);
   * default: the one beside the image that fits its root partition.
   */
  rootHashFile?: string;
  /** Guest extension images, attached after the disk in this order (lib/boot/extensions.ts). */
  extensions?: ExtensionSpec[];
  /** Called with each piece of console output as it arrives. */
  onConsole?: (chunk: string) => void;
}

export interface BootResult {
  markerSeen: boolean;
  console: string;
  seconds: number;
  /** Without the marker: why the boot failed, in one line. */
  reason?: string;
  /** The console line that says why the guest cannot come up (a dm-verity error first). */
  failure?: string;
  /** The root hash file a measured image was booted with. */
  rootHashFile?: string;
}

/** Byte offset of partition 1 from an MBR (sector 0). */
export function firstPartitionOffset(mbr: Buffer): number {
  if (!hasBootSignature(mbr)) die('the image has no MBR partition table');
  return (mbrPartition(mbr, 1) ?? die('the image has no first partition')).offset;
}


/** Filesystem type from the first 4 KiB of a partition. */
export function rootFsTypeOf(head: Buffer): RootFsType | undefined {
  if (head.toString('latin1', 0, 4) === 'XFSB') return 'xfs';
  if (head.length >= 1028 && head.readUInt32LE(1024) === 0xe0f5e1e2) return 'erofs';
  if (head.length >= 1082 && head.readUInt16LE(1024 + 56) === 0xef53) return 'ext4';
  return undefined;
}

/** Partition 1 of an image, or undefined when MBR #1 is blank or there is no MBR (the PFN-only images). */
function firstPartition(image: string): { offset: number; bytes: number } | undefined {
  const mbr = readAt(image, 0, SECTOR);
  return mbrPartition(mbr, 1);
}

/** The root filesystem type of a disk image built by image.ts. */
function detectRootFsType(image: string): RootFsType {
  const offset = firstPartitionOffset(readAt(image, 0, SECTOR));
  return rootFsTypeOf(readAt(image, offset, 4096)) ?? die(`${image}: no ext4, xfs or erofs filesystem in partition 1`);
}

/**
 * Kernel parameters for a disk root, as the Kata runtime passes them
 * (DAX on NVDIMM). The shim reads the same root=/rootfstype=/rootflags=.
 */
export function rootParams(media: BootMedia, fsType: RootFsType): string {
  const device = media === 'nvdimm' ? '/dev/pmem0p1' : '/dev/vda1';
  const flags = [
    ...(media === 'nvdimm' ? ['dax'] : []),
    ...(fsType === 'ext4' ? ['data=ordered', 'errors=remount-ro'] : []),
  ];
  return [`root=${device}`, ...(flags.length ? [`rootflags=${flags.join(',')}`] : []), 'ro', `rootfstype=${fsType}`].join(' ');
}

/** Parameters every boot gets: serial console, no reboot loop, Kata's systemd target. */
const baseParams = (arch: Arch) => `console=${BOOT_ARCHES[arch].console} ${BASE_PARAMS_REST}`;
const BASE_PARAMS_REST =
  'panic=-1 systemd.unit=kata-containers.target systemd.mask=systemd-networkd.service systemd.mask=systemd-networkd.socket';

/**
 * Console output after which the agent cannot come up (the guest hangs or
 * stops), or must not be trusted (a block failed dm-verity verification).
 */
const FATAL_CONSOLE = [VERITY_CORRUPTION, DM_CREATE_ERROR, EXTENSION_REFUSAL, /Freezing execution\./, /You are in emergency mode/, /Kernel panic - not syncing/];

/** The console line that says why the guest failed (a verity error before what it caused). */
export function fatalConsoleLine(console: string): string | undefined {
  for (const re of FATAL_CONSOLE) {
    const m = re.exec(console);
    if (m) {
      const start = console.lastIndexOf('\n', m.index) + 1;
      const end = console.indexOf('\n', m.index);
      return console.slice(start, end < 0 ? undefined : end).replace(/^\[[\s\d.]+\]\s*/, '').trim();
    }
  }
  return undefined;
}

/**
 * Root parameters for a disk image: dm-verity over p1/p2 when the image has
 * a hash partition (MEASURED_ROOTFS), as the runtime boots it.
 */
function diskRootParams(opts: BootOptions, image: string, media: BootMedia): { params: string; rootHashFile?: string } {
  const fsType = opts.rootFsType ?? detectRootFsType(image);
  const mbr = readAt(image, 0, SECTOR);
  // MBR #1 may be blank (a kernel reading MBR #2 through the PFN block finds the root): no verity then.
  const root = mbrPartition(mbr, 1);
  if (!root || !mbrPartition(mbr, 2)) {
    if (opts.rootHashFile) die(`${image} has no dm-verity hash partition (not built with MEASURED_ROOTFS=yes): drop the root hash file ${opts.rootHashFile}`);
    return { params: rootParams(media, fsType) };
  }
  const file = opts.rootHashFile ?? findRootHashFile(image, root.bytes);
  const verity = readVerityParams(file);
  if (verity.dataBlocks * verity.dataBlockSize !== root.bytes) {
    die(`${file} covers ${verity.dataBlocks * verity.dataBlockSize} bytes but the root partition of ${image} has ${root.bytes}: give the root hash file built with this image`);
  }
  info(`measured image: booting through dm-verity with ${file}`);
  return { params: verityRootParams(verity, media, fsType), rootHashFile: file };
}

/** The architecture in an image's summary file; undefined when MBR #1 has no partition (the PFN-only tests) or it is not ext4. */
async function recordedImageArch(image: string): Promise<Arch | undefined> {
  const root = firstPartition(image);
  return root ? imageArch(image, root.offset) : undefined;
}

/** Boot an image or an initrd; `markerSeen` says whether the agent came up. */
export async function bootGuest(opts: BootOptions): Promise<BootResult> {
  if (!!opts.image === !!opts.initrd) die('boot: give either a disk image or an initrd');
  if (opts.initrd && opts.rootHashFile) die(`${opts.initrd} is an initrd: a root hash file belongs to a MEASURED_ROOTFS disk image`);
  const target = (opts.image ?? opts.initrd)!;
  if (!existsSync(target)) die(`${target} does not exist`);
  if (opts.kernel && !existsSync(opts.kernel)) die(`kernel ${opts.kernel} does not exist`);
  const media = opts.media ?? 'virtio';
  const recorded = opts.image ? await recordedImageArch(opts.image) : await initrdArch(opts.initrd!);
  if (opts.arch && recorded && opts.arch !== recorded) die(`${target} holds a guest for ${recorded}, not ${opts.arch}: give -a ${recorded} or leave -a out`);
  const arch = opts.arch ?? recorded ?? hostBootArch();
  if (!(await haveCommand(BOOT_ARCHES[arch].qemu))) die(`${BOOT_ARCHES[arch].qemu} is not installed: apt-get install ${QEMU_PACKAGES[arch]} (scripts/setup-host.sh)`);
  if (media === 'nvdimm' && !BOOT_ARCHES[arch].nvdimmMachine) die(`${BOOT_ARCHES[arch].qemu} offers no NVDIMM to a directly booted kernel: boot ${arch} images on virtio`);
  if (opts.kernel) {
    const kernelIs = kernelArch(opts.kernel);
    if (kernelIs && kernelIs !== arch) die(`kernel ${opts.kernel} is built for ${kernelIs}, but ${target} is a guest for ${arch}: give a kernel for ${arch} with -k, or leave -k out for Debian's`);
  }
  if (opts.extensions?.length && !opts.image) die('boot: extension images are attached to a disk image boot (the runtime attaches them next to its image)');
  const extensions = resolveExtensions(opts.extensions ?? []);
  const debian = opts.kernel ? undefined : await debianKernel(arch);
  const kernel = opts.kernel ?? debian!.vmlinuz;

  let append = baseParams(arch);
  let initrd = opts.initrd;
  let image: { path: string; bytes: number; media: BootMedia } | undefined;
  let rootHashFile: string | undefined;
  if (opts.image) {
    const partition = debian && firstPartition(opts.image);
    const unreadable = partition && erofsUnreadableReason(readAt(opts.image, partition.offset, 4096), debian);
    if (unreadable) die(`${opts.image}: ${unreadable}: build it with FS_TYPE=ext4 or xfs, or boot it with a kernel of 4 KiB pages (-k)`);
    const root = diskRootParams(opts, opts.image, media);
    append += ` ${root.params}`;
    rootHashFile = root.rootHashFile;
    image = { path: opts.image, bytes: statSync(opts.image).size, media };
    // As the runtimes do: after the kernel_params, one key per extension.
    for (const p of extensionKernelParams(extensions)) append += ` ${p}`;
    if (debian) initrd = await shimInitramfs(debian, { modules: BOOT_ARCHES[arch].shimModules, busybox: await busyboxFor(arch), arch });
  }
  const run = await runQemu([...qemuArgs({ kernel, append, initrd, image, arch }), ...extensionQemuArgs(extensions, arch)], {
    qemu: BOOT_ARCHES[arch].qemu,
    marker: opts.marker ?? DEFAULT_MARKER,
    timeoutSeconds: opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    failOn: FATAL_CONSOLE,
    onConsole: opts.onConsole,
  });
  const failure = run.markerSeen ? undefined : fatalConsoleLine(run.console);
  return { ...run, ...(failure ? { failure } : {}), ...(rootHashFile ? { rootHashFile } : {}) };
}
