// PACKAGE_CACHE_DIR: downloaded packages kept between builds, one directory
// per distro, release, architecture and bootstrap tool. The package manager checks each
// cached file against the repository's index before using it, so a stale or
// damaged file is downloaded again, never installed. After a build, a cached
// package that the build installed in another version is dropped, so the
// cache follows the repository without growing.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { die, info } from '../core/log.ts';
import { userCacheDir } from '../core/user-cache.ts';

/** The directory holding every key's cache, or undefined when PACKAGE_CACHE_DIR=no. */
export function packageCacheBase(setting: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (setting === 'no') return undefined;
  const base = setting || join(userCacheDir(env), 'packages');
  if (!isAbsolute(base)) die(`PACKAGE_CACHE_DIR=${base} is not an absolute path: give one, or no to download every time`);
  // The path goes into mmdebstrap hook command lines, which split on blanks.
  if (/[^\w./+-]/.test(base)) die(`PACKAGE_CACHE_DIR=${base} holds characters a hook command cannot take: use letters, digits and . _ - + /`);
  return base;
}

/** The cache directory of one distro/release/arch, or undefined when PACKAGE_CACHE_DIR=no. */
export function packageCacheDir(setting: string, key: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = packageCacheBase(setting, env);
  return base && join(base, key);
}

/** Package name → installed version, from a dpkg status file. */
export function installedVersions(status: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const stanza of status.split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1];
    const name = field('Package');
    const version = field('Version');
    if (name && version && /^install ok installed$/m.test(field('Status') ?? '')) versions.set(name, version);
  }
  return versions;
}

/** The .deb file names (NAME_VERSION_ARCH.deb, ':' written %3a) of packages installed in another version. */
export function supersededDebs(files: string[], installed: Map<string, string>): string[] {
  return files.filter((file) => {
    const m = /^([^_]+)_([^_]+)_[^_]+\.deb$/.exec(file);
    if (!m) return false;
    const version = installed.get(m[1]!);
    return version !== undefined && version !== decodeURIComponent(m[2]!);
  });
}

/** Drop from `cache` the packages the tree at `statusFile` holds in a newer (or other) version. */
export function dropSupersededPackages(cache: string, statusFile: string): void {
  if (!existsSync(statusFile) || !existsSync(cache)) return;
  const old = supersededDebs(readdirSync(cache), installedVersions(readFileSync(statusFile, 'utf8')));
  for (const file of old) rmSync(join(cache, file), { force: true });
  if (old.length) info(`Dropped ${old.length} superseded package(s) from ${cache}`);
}
