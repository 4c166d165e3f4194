// PACKAGE_CACHE_DIR: downloaded packages kept between builds, one directory
// per distro, release, architecture and bootstrap tool. The package manager checks each
// cached file against the repository's index before using it, so a stale or
// damaged file is downloaded again, never installed. After a build, a cached
// package that the build installed in another version is dropped, so the
// cache follows the repository without growing.
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { writeFileAtomic } from '../core/atomic-write.ts';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { checkCacheRoot, claimCacheRoot, type CacheRoot } from '../core/cache-root.ts';
import { die, info, warn } from '../core/log.ts';
import { userCacheDir } from '../core/user-cache.ts';

/** A key dir's name: DISTRO-RELEASE-ARCH-TOOL. */
const KEY_DIR = /^[\w.+~-]+-(mmdebstrap|debootstrap)$/;
/** Beside the key dirs: the .deb files of each that the builder put there (a name a line). */
const oursFile = (base: string, key: string) => join(base, `.${key}.debs`);
const OURS_FILE = /^\.([\w.+~-]+-(?:mmdebstrap|debootstrap))\.debs(?:\.tmp-\d+)?$/;

const isDir = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;

const rootOf = (base: string): CacheRoot => ({
  variable: 'PACKAGE_CACHE_DIR',
  dir: base,
  kind: 'packages',
  isOurs: (name) => (KEY_DIR.test(name) && isDir(join(base, name))) || OURS_FILE.test(name),
});

/** The directory holding every key's cache, or undefined when PACKAGE_CACHE_DIR=no; a dir that is not ours (or is /, $HOME...) is refused. */
export function packageCacheBase(setting: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (setting === 'no') return undefined;
  const base = setting || join(userCacheDir(env), 'packages');
  if (!isAbsolute(base)) die(`PACKAGE_CACHE_DIR=${base} is not an absolute path: give one, or no to download every time`);
  // The path goes into mmdebstrap hook command lines, which split on blanks.
  if (/[^\w./+-]/.test(base)) die(`PACKAGE_CACHE_DIR=${base} holds characters a hook command cannot take: use letters, digits and . _ - + /`);
  checkCacheRoot(rootOf(base), env);
  return base;
}

/** The cache directory of one distro/release/arch/tool, or undefined when PACKAGE_CACHE_DIR=no; never outside PACKAGE_CACHE_DIR. */
export function packageCacheDir(setting: string, key: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = packageCacheBase(setting, env);
  if (!base) return undefined;
  const dir = resolve(base, key);
  if (!/^[\w.+~-]+$/.test(key) || key === '.' || key === '..' || dirname(dir) !== resolve(base)) {
    die(`the package cache of ${JSON.stringify(key)} would not be a directory of its own in PACKAGE_CACHE_DIR=${base}: OS_VERSION and ARCH must be names (letters, digits, . _ + ~ -), not paths`);
  }
  return join(base, key);
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

const warnedKeys = new Set<string>();

/**
 * After a build: drop from the key dir `cache` the packages of ours that the
 * tree at `statusFile` holds in another version, and record which packages
 * are ours: those recorded before and those this build installed (its
 * downloads). A key dir without a record was made by the builder (new, or
 * from before records were kept): its .deb files are all ours. Anything
 * else is left alone and named once.
 */
export function dropSupersededPackages(cache: string, statusFile: string): void {
  if (!existsSync(statusFile) || !existsSync(cache)) return;
  const base = dirname(cache);
  const key = basename(cache);
  claimCacheRoot(rootOf(base));
  const installed = installedVersions(readFileSync(statusFile, 'utf8'));
  const files = readdirSync(cache);
  const isDeb = (f: string) => f.endsWith('.deb') && lstatSync(join(cache, f)).isFile();
  const record = oursFile(base, key);
  const recorded = existsSync(record) ? new Set(readFileSync(record, 'utf8').split('\n').filter(Boolean)) : undefined;
  const justInstalled = (f: string) => {
    const m = /^([^_]+)_([^_]+)_[^_]+\.deb$/.exec(f);
    return !!m && installed.get(m[1]!) === decodeURIComponent(m[2]!);
  };
  const ours = files.filter((f) => isDeb(f) && (!recorded || recorded.has(f) || justInstalled(f)));
  const foreign = files.filter((f) => !ours.includes(f));
  if (foreign.length && !warnedKeys.has(cache)) {
    warnedKeys.add(cache);
    warn(`PACKAGE_CACHE_DIR: ${cache} holds files osbuilder-ts did not put there, left alone: ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ` and ${foreign.length - 5} more` : ''}`);
  }
  const old = supersededDebs(ours, installed);
  for (const file of old) fx.remove(join(cache, file), { force: true });
  if (old.length) info(`Dropped ${old.length} superseded package(s) from ${cache}`);
  writeFileAtomic(record, ours.filter((f) => !old.includes(f)).sort().map((f) => `${f}\n`).join(''));
}
