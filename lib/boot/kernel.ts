// A guest kernel for boot checks: Debian's cloud kernel, fetched with
// `apt-get download` + `dpkg-deb -x` and kept in a user cache directory
// (never in the repository). Its virtio, NVDIMM, xfs and erofs drivers are
// modules; lib/boot/shim.ts packs the ones a disk boot needs.
import { existsSync, readdirSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { atomicOutput } from '../core/atomic-write.ts';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { die, step, warn } from '../core/log.ts';
import { userCacheDir } from '../core/user-cache.ts';
import { withDownloadRetries } from '../core/retry.ts';
import { type Arch, hostArch, isArch } from '../core/arch.ts';
import { BOOT_ARCHES } from './arch.ts';
import { foreignApt } from './foreign-apt.ts';

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
export function releaseFromDepends(aptCacheDepends: string, flavour = BOOT_ARCHES.x86_64.flavour): string | undefined {
  const m = aptCacheDepends.match(new RegExp(`Depends: linux-image-(\\S+-${flavour})\\b`));
  return m?.[1];
}

function kernelOf(dir: string, release: string, arch: Arch): DebianKernel {
  const file = BOOT_ARCHES[arch].kernelFile;
  return { release, vmlinuz: join(dir, 'boot', `${file}-${release}`), modulesDir: join(dir, 'lib', 'modules', release) };
}

function cachedReleases(cacheDir: string, flavour: string): string[] {
  if (!existsSync(cacheDir)) return [];
  return readdirSync(cacheDir)
    .filter((d) => d.startsWith('kernel-') && d.endsWith(`-${flavour}`) && !d.includes('.tmp'))
    .map((d) => d.slice('kernel-'.length))
    .sort();
}

async function currentRelease(arch: Arch, apt: string[]): Promise<string | undefined> {
  const { kernelPackage, flavour } = BOOT_ARCHES[arch];
  const out = await $({ nothrow: true })`apt-cache ${apt} depends ${kernelPackage}`;
  return out.exitCode === 0 ? releaseFromDepends(out.stdout, flavour) : undefined;
}

async function downloadKernel(release: string, dest: string, arch: Arch, apt: string[]): Promise<void> {
  const pkg = `linux-image-${release}`;
  // Another process may download the same kernel at once: the first one's stays.
  await atomicOutput(dest, async (tmp) => {
    fx.mkdir(tmp, { recursive: true });
    await step(`Downloading ${pkg} (Debian ${arch} kernel for boot checks)`, async () => {
      await withDownloadRetries(`apt-get download ${pkg}`, () => $({ cwd: tmp })`apt-get ${apt} download ${pkg}`);
      await $({ cwd: tmp })`dpkg-deb -x ./${pkg}_*.deb . && rm -f ./${pkg}_*.deb`;
    });
    const kernel = kernelOf(tmp, release, arch);
    if (!existsSync(kernel.vmlinuz)) die(`${pkg} holds no ${kernel.vmlinuz.slice(tmp.length + 1)}`);
  }, { keepExisting: true });
}

/**
 * The current Debian kernel of `arch` (the cloud flavour where Debian has
 * one), as apt knows it, downloaded once into kernelCacheDir(). Another
 * architecture's package lists live in a private apt state there. Without apt
 * metadata, the newest cached kernel is used.
 */
export async function debianKernel(arch: Arch = hostBootArch()): Promise<DebianKernel> {
  const cacheDir = kernelCacheDir();
  const { kernelPackage, flavour } = BOOT_ARCHES[arch];
  const apt = await foreignApt(arch, cacheDir);
  const release = await currentRelease(arch, apt);
  if (!release) {
    const newest = cachedReleases(cacheDir, flavour).pop();
    if (!newest) die(`apt does not know ${kernelPackage}: run apt-get update, or pass a kernel explicitly`);
    warn(`apt does not know ${kernelPackage}; using the cached kernel ${newest}`);
    return kernelOf(join(cacheDir, `kernel-${newest}`), newest, arch);
  }
  const dir = join(cacheDir, `kernel-${release}`);
  if (!existsSync(dir)) {
    fx.mkdir(cacheDir, { recursive: true });
    await downloadKernel(release, dir, arch, apt);
  }
  return kernelOf(dir, release, arch);
}

/** The host's architecture when boot checks know it, else x86_64. */
export function hostBootArch(): Arch {
  const host = hostArch();
  return isArch(host) ? host : 'x86_64';
}

/** The host architecture's kernel (the x86_64 cloud kernel on this project's hosts). */
export const debianCloudKernel = (): Promise<DebianKernel> => debianKernel();
