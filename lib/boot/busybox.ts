// The static busybox of the disk shim, for the guest's architecture: the
// host's /bin/busybox (busybox-static) for its own, else that architecture's
// busybox-static package, fetched through the private apt state and kept in
// the kernel cache, one directory a version.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES, type Arch, hostArch } from '../core/arch.ts';
import { $ } from '../core/exec.ts';
import { die, info } from '../core/log.ts';
import { withDownloadRetries } from '../core/retry.ts';
import { foreignApt } from './foreign-apt.ts';
import { kernelCacheDir } from './kernel.ts';

export const HOST_BUSYBOX = '/bin/busybox';

/** Path of a static busybox that runs in an `arch` guest. */
export async function busyboxFor(arch: Arch): Promise<string> {
  if (arch === hostArch()) {
    if (!existsSync(HOST_BUSYBOX)) die(`${HOST_BUSYBOX} is missing: install busybox-static (scripts/setup-host.sh)`);
    return HOST_BUSYBOX;
  }
  const cacheDir = kernelCacheDir();
  const apt = await foreignApt(arch, cacheDir);
  const show = await $`apt-cache ${apt} show --no-all-versions busybox-static`;
  const version = show.stdout.match(/^Version: (\S+)$/m)?.[1] ?? die(`apt knows no ${ARCHES[arch].debian} busybox-static`);
  const dir = join(cacheDir, `busybox-${ARCHES[arch].debian}-${version.replace(/[^\w.+-]/g, '_')}`);
  const path = join(dir, 'bin/busybox');
  if (existsSync(path)) return path;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    info(`downloading busybox-static ${version} (${ARCHES[arch].debian}) for the boot shim`);
    await withDownloadRetries('apt-get download busybox-static', () => $({ cwd: tmp })`apt-get ${apt} download busybox-static`);
    await $({ cwd: tmp })`dpkg-deb -x ./busybox-static_*.deb unpacked && rm -f ./busybox-static_*.deb`;
    try {
      renameSync(join(tmp, 'unpacked'), dir);
    } catch (e) {
      if (!existsSync(dir)) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return path;
}
