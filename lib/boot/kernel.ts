// A guest kernel for boot checks: Debian's cloud kernel, fetched with
// `apt-get download` + `dpkg-deb -x` and kept in a user cache directory
// (never in the repository). Its virtio, NVDIMM, xfs and erofs drivers are
// modules; lib/boot/shim.ts packs the ones a disk boot needs.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { die, step, warn } from '../core/log.ts';
import { userCacheDir } from '../core/user-cache.ts';

const METAPACKAGE = 'linux-image-cloud-amd64';
const FLAVOUR = 'cloud-amd64';

export interface DebianKernel {
  /** Kernel release, e.g. 6.1.0-57-cloud-amd64. */
  release: string;
  vmlinuz: string;
  /** lib/modules/<release> of the unpacked package. */
  modulesDir: string;
}

/** OSBUILDER_KERNEL_DIR, else ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts. */
export function kernelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OSBUILDER_KERNEL_DIR || userCacheDir(env);
}

/** The kernel release the metapackage points at, from `apt-cache depends` output. */
export function releaseFromDepends(aptCacheDepends: string): string | undefined {
  const m = aptCacheDepends.match(new RegExp(`Depends: linux-image-(\\S+-${FLAVOUR})\\b`));
  return m?.[1];
}

function kernelOf(dir: string, release: string): DebianKernel {
  return { release, vmlinuz: join(dir, 'boot', `vmlinuz-${release}`), modulesDir: join(dir, 'lib', 'modules', release) };
}

function cachedReleases(cacheDir: string): string[] {
  if (!existsSync(cacheDir)) return [];
  return readdirSync(cacheDir)
    .filter((d) => d.startsWith('kernel-') && !d.includes('.tmp'))
    .map((d) => d.slice('kernel-'.length))
    .sort();
}

async function currentRelease(): Promise<string | undefined> {
  const out = await $({ nothrow: true })`apt-cache depends ${METAPACKAGE}`;
  return out.exitCode === 0 ? releaseFromDepends(out.stdout) : undefined;
}

async function downloadKernel(release: string, dest: string): Promise<void> {
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const pkg = `linux-image-${release}`;
    await step(`Downloading ${pkg} (Debian cloud kernel for boot checks)`, async () => {
      await $({ cwd: tmp })`apt-get download ${pkg}`;
      await $({ cwd: tmp })`dpkg-deb -x ./${pkg}_*.deb unpacked && rm -f ./${pkg}_*.deb`;
    });
    if (!existsSync(kernelOf(join(tmp, 'unpacked'), release).vmlinuz)) die(`${pkg} holds no boot/vmlinuz-${release}`);
    try {
      renameSync(join(tmp, 'unpacked'), dest);
    } catch (e) {
      if (!existsSync(dest)) throw e; // another process won the race
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The current Debian cloud kernel (as apt knows it), downloaded once into
 * kernelCacheDir(). Without apt metadata, the newest cached kernel is used.
 */
export async function debianCloudKernel(): Promise<DebianKernel> {
  const cacheDir = kernelCacheDir();
  const release = await currentRelease();
  if (!release) {
    const newest = cachedReleases(cacheDir).pop();
    if (!newest) die(`apt does not know ${METAPACKAGE}: run apt-get update, or pass a kernel explicitly`);
    warn(`apt does not know ${METAPACKAGE}; using the cached kernel ${newest}`);
    return kernelOf(join(cacheDir, `kernel-${newest}`), newest);
  }
  const dir = join(cacheDir, `kernel-${release}`);
  if (!existsSync(dir)) {
    mkdirSync(cacheDir, { recursive: true });
    await downloadKernel(release, dir);
  }
  return kernelOf(dir, release);
}
