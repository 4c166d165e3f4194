// The static busybox of the disk shim, for the guest's architecture: the
// host's /bin/busybox (busybox-static) for its own, else that architecture's
// busybox-static package, fetched through the private apt state and kept in
// the kernel cache, one directory a version.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { atomicOutput } from '../core/atomic-write.ts';
import { join } from 'node:path';
import { ARCHES, type Arch, hostArch } from '../core/arch.ts';
import { $ } from '../core/exec.ts';
import { die, info } from '../core/log.ts';
import { withDownloadRetries } from '../core/retry.ts';
import { foreignApt } from './foreign-apt.ts';
import { kernelCacheDir } from './kernel.ts';

export const HOST_BUSYBOX = '/bin/busybox';

const PT_INTERP = 3;

/**
 * Whether the ELF file at `path` asks for a program interpreter (PT_INTERP):
 * a dynamically linked binary, which cannot run alone in an initramfs.
 * undefined when it is no ELF file at all.
 */
export function needsInterpreter(path: string): boolean | undefined {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    if (readSync(fd, head, 0, 64, 0) < 52 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const is64 = head[4] === 2;
    const le = head[5] !== 2;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const phoff = is64 ? Number(le ? head.readBigUInt64LE(0x20) : head.readBigUInt64BE(0x20)) : u32(head, 0x1c);
    const [phentsize, phnum] = is64 ? [u16(head, 0x36), u16(head, 0x38)] : [u16(head, 0x2a), u16(head, 0x2c)];
    const table = Buffer.alloc(phentsize * phnum);
    if (phentsize < 4 || readSync(fd, table, 0, table.length, phoff) < table.length) return undefined;
    for (let i = 0; i < phnum; i++) if (u32(table, i * phentsize) === PT_INTERP) return true;
    return false;
  } finally {
    closeSync(fd);
  }
}

/** The shim's busybox is its /init's shell: it must exist and be static, or every disk boot panics with "No working init found". */
export function checkStaticBusybox(path: string): void {
  if (!existsSync(path)) die(`${path} is missing: install busybox-static (apt-get install busybox-static)`);
  const dynamic = needsInterpreter(path);
  if (dynamic === undefined) die(`${path} is not an ELF binary: the boot shim needs a static busybox; install busybox-static (apt-get install busybox-static)`);
  if (dynamic) {
    die(`${path} is dynamically linked (Debian's busybox package, not busybox-static?): the boot shim has no libraries for it, so the guest would panic with "No working init found"; install the static one: apt-get install busybox-static`);
  }
}

/** Path of a static busybox that runs in an `arch` guest. */
export async function busyboxFor(arch: Arch): Promise<string> {
  if (arch === hostArch()) {
    checkStaticBusybox(HOST_BUSYBOX);
    return HOST_BUSYBOX;
  }
  const cacheDir = kernelCacheDir();
  const apt = await foreignApt(arch, cacheDir);
  const show = await $`apt-cache ${apt} show --no-all-versions busybox-static`;
  const version = show.stdout.match(/^Version: (\S+)$/m)?.[1] ?? die(`apt knows no ${ARCHES[arch].debian} busybox-static`);
  const dir = join(cacheDir, `busybox-${ARCHES[arch].debian}-${version.replace(/[^\w.+-]/g, '_')}`);
  const path = join(dir, 'bin/busybox');
  if (existsSync(path)) return path;
  info(`downloading busybox-static ${version} (${ARCHES[arch].debian}) for the boot shim`);
  await atomicOutput(dir, async (tmp) => {
    fx.mkdir(tmp, { recursive: true });
    await withDownloadRetries('apt-get download busybox-static', () => $({ cwd: tmp })`apt-get ${apt} download busybox-static`);
    await $({ cwd: tmp })`dpkg-deb -x ./busybox-static_*.deb . && rm -f ./busybox-static_*.deb`;
  }, { keepExisting: true });
  return path;
}
