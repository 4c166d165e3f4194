// Per-architecture choices of a boot check: which QEMU, which machine, which
// console, which Debian kernel package, and which modules the disk shim
// loads. Always TCG. NVDIMM only where the machine exposes it to a
// directly-booted kernel (x86 pc; arm virt needs ACPI firmware for it).
import type { Arch } from '../core/arch.ts';

interface BootArch {
  qemu: string;
  /** Machine and CPU arguments. */
  machine: string[];
  /** Machine arguments with an NVDIMM slot; undefined: NVDIMM is not offered. */
  nvdimmMachine?: string[];
  /** The serial console's device name for console=. */
  console: string;
  /** Debian's kernel metapackage and the flavour its kernel releases end in. */
  kernelPackage: string;
  flavour: string;
  /** boot/<file>-<release> in the package: vmlinuz, or vmlinux (an ELF) on ppc64el. */
  kernelFile: 'vmlinuz' | 'vmlinux';
  /** Modules the disk shim loads (dependencies added from modinfo; built-ins skipped, as ext4 is on amd64 and arm64). */
  shimModules: string[];
}

export const BOOT_ARCHES: Record<Arch, BootArch> = {
  x86_64: {
    qemu: 'qemu-system-x86_64',
    machine: ['-machine', 'pc'],
    nvdimmMachine: ['-machine', 'pc,nvdimm=on'],
    console: 'ttyS0',
    kernelPackage: 'linux-image-cloud-amd64',
    flavour: 'cloud-amd64',
    kernelFile: 'vmlinuz',
    shimModules: ['virtio_pci', 'virtio_blk', 'nfit', 'nd_pmem', 'xfs', 'erofs', 'dm_verity'],
  },
  aarch64: {
    qemu: 'qemu-system-aarch64',
    // Architected pointer authentication costs TCG dearly; the implementation-defined one is cheap.
    machine: ['-machine', 'virt', '-cpu', 'max,pauth-impdef=on'],
    console: 'ttyAMA0',
    kernelPackage: 'linux-image-cloud-arm64',
    flavour: 'cloud-arm64',
    kernelFile: 'vmlinuz',
    shimModules: ['virtio_pci', 'virtio_blk', 'ext4', 'xfs', 'erofs', 'dm_verity'],
  },
  s390x: {
    qemu: 'qemu-system-s390x',
    machine: ['-machine', 's390-ccw-virtio', '-cpu', 'max'],
    console: 'ttysclp0',
    kernelPackage: 'linux-image-s390x',
    flavour: 's390x',
    kernelFile: 'vmlinuz',
    // The ccw transport is built in (S390_GUEST).
    shimModules: ['virtio_blk', 'ext4', 'xfs', 'erofs', 'dm_verity'],
  },
  ppc64le: {
    qemu: 'qemu-system-ppc64',
    // TCG implements none of the spectre mitigations pseries asks for by default.
    machine: ['-machine', 'pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off'],
    console: 'hvc0',
    kernelPackage: 'linux-image-powerpc64le',
    flavour: 'powerpc64le',
    kernelFile: 'vmlinux',
    shimModules: ['virtio_pci', 'virtio_blk', 'ext4', 'xfs', 'erofs', 'dm_verity'],
  },
};

/** The Debian packages that bring each architecture's QEMU (scripts/setup-host.sh installs them). */
export const QEMU_PACKAGES: Record<Arch, string> = {
  x86_64: 'qemu-system-x86',
  aarch64: 'qemu-system-arm',
  s390x: 'qemu-system-misc',
  ppc64le: 'qemu-system-ppc',
};
