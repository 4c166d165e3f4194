// Distro configurations: each `rootfs/<name>/config.ts` exports a
// `DistroConfig` as its default export — plain data plus an optional
// `buildRootfs` override. The generic flow never names a distro.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DistroConfig } from './types.ts';
import { die } from '../core/log.ts';
import { ARCHES, checkArch } from '../core/arch.ts';

export const distrosDir = new URL('../../rootfs/', import.meta.url).pathname;

/** Configs linked into a bundle (the container stage), found before the folders. */
export const bundledDistros = new Map<string, DistroConfig>();
/** Set by a script's host bundle (scripts/launch.mjs): the distro configs it holds, loaded on first use. */
export const distroLoaders = new Map<string, () => Promise<unknown>>();

/** The distro folders (those holding a config.ts), sorted. */
export function listDistros(dir = distrosDir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'config.ts')))
    .map((e) => e.name)
    .sort();
}

/** Load `rootfs/<name>/config.ts` and apply its override for `arch`. */
export async function loadDistro(name: string, arch: string, dir = distrosDir): Promise<DistroConfig> {
  const bundled = bundledDistros.get(name);
  if (bundled) return withArch(bundled, arch);
  const known = listDistros(dir);
  if (!/^[A-Za-z0-9._-]+$/.test(name) || !known.includes(name)) {
    die(`unknown distro "${name}": use one of ${known.join(', ')}`);
  }
  const load = dir === distrosDir ? distroLoaders.get(name) : undefined;
  const mod = (await (load ? load() : import(pathToFileURL(join(dir, name, 'config.ts')).href))) as { default?: DistroConfig };
  const config = mod.default;
  if (!config || typeof config.packages !== 'function') {
    die(`rootfs/${name}/config.ts must export a DistroConfig as its default export`);
  }
  return withArch(config, arch);
}

function withArch(config: DistroConfig, arch: string): DistroConfig {
  return { ...config, ...(config.archOverrides?.[arch] ?? {}) };
}

/** The `-t DISTRO` lines, as upstream prints them. */
export function testConfigText(config: DistroConfig): string {
  return `INIT_PROCESS:\t\t${config.initProcess}\nARCH_EXCLUDE_LIST:\t\t${(config.archExcludeList ?? []).join(' ')}\n`;
}

/** `uname -m` name → Debian architecture name. */
export function debianArch(arch: string): string {
  return ARCHES[checkArch(arch)].debian;
}
