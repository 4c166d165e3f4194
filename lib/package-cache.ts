// PACKAGE_CACHE_DIR: downloaded packages kept between builds, one directory
// per distro, release and architecture. The package manager checks each
// cached file against the repository's index before using it, so a stale or
// damaged file is downloaded again, never installed.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { die } from './log.ts';

/** ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts: the builder's own cache on this host. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'osbuilder-ts');
}

/** The cache directory of one distro/release/arch, or undefined when PACKAGE_CACHE_DIR=no. */
export function packageCacheDir(setting: string, key: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (setting === 'no') return undefined;
  const base = setting || join(userCacheDir(env), 'packages');
  if (!isAbsolute(base)) die(`PACKAGE_CACHE_DIR=${base} is not an absolute path: give one, or no to download every time`);
  // The path goes into mmdebstrap hook command lines, which split on blanks.
  if (/[^\w./+-]/.test(base)) die(`PACKAGE_CACHE_DIR=${base} holds characters a hook command cannot take: use letters, digits and . _ - + /`);
  return join(base, key);
}
