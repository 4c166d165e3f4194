// The target architectures every builder knows, by their `uname -m` name, and
// what each tool calls them. One table: ARCH, the Debian and qemu-user names,
// the ELF machine number that tells an arch's binaries and kernels apart, and
// Debian's cross compiler.
import { machine } from 'node:os';
import { die } from './log.ts';

export type Arch = 'x86_64' | 'aarch64' | 'ppc64le' | 's390x';

interface ArchNames {
  /** dpkg's name (amd64, arm64, ppc64el, s390x). */
  debian: string;
  /** qemu-user's name: binfmt handler qemu-<name>, qemu-<name>-static. */
  qemu: string;
  /** e_machine of the architecture's ELF files. */
  elfMachine: number;
  /** Debian's cross compiler for it (package gcc-<triplet>). */
  crossGcc: string;
}

export const ARCHES: Record<Arch, ArchNames> = {
  x86_64: { debian: 'amd64', qemu: 'x86_64', elfMachine: 62, crossGcc: 'x86_64-linux-gnu-gcc' },
  aarch64: { debian: 'arm64', qemu: 'aarch64', elfMachine: 183, crossGcc: 'aarch64-linux-gnu-gcc' },
  ppc64le: { debian: 'ppc64el', qemu: 'ppc64le', elfMachine: 21, crossGcc: 'powerpc64le-linux-gnu-gcc' },
  s390x: { debian: 's390x', qemu: 's390x', elfMachine: 22, crossGcc: 's390x-linux-gnu-gcc' },
};

export const SUPPORTED_ARCHES = Object.keys(ARCHES) as Arch[];

export function isArch(name: string): name is Arch {
  return Object.hasOwn(ARCHES, name);
}

/** `name` checked against the table; `setting` names where it came from in the error. */
export function checkArch(name: string, setting = 'ARCH'): Arch {
  return isArch(name) ? name : die(`${setting}=${name} is not a supported architecture: use one of ${SUPPORTED_ARCHES.join(', ')}`);
}

/** The host's architecture, `uname -m` style (node says x64/arm64/ppc64/s390x). */
export function hostArch(): string {
  return machine();
}

/** The C compiler that builds static binaries for `arch`: the host's gcc, or Debian's cross compiler. */
export function compilerFor(arch?: Arch): string {
  return !arch || arch === hostArch() ? 'gcc' : ARCHES[arch].crossGcc;
}

/** The architecture of an ELF file from its header, or undefined when it is not one of ours. */
export function elfArch(head: Buffer): Arch | undefined {
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const bigEndian = head[5] === 2;
  const em = bigEndian ? head.readUInt16BE(18) : head.readUInt16LE(18);
  // ppc64 big endian shares e_machine 21 with ppc64le: only little endian is ours.
  if (em === ARCHES.ppc64le.elfMachine && bigEndian) return undefined;
  return SUPPORTED_ARCHES.find((a) => ARCHES[a].elfMachine === em);
}
