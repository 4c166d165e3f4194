// The builder's own cache on this host (distro trees, packages, kernels): never in the repository.
import { lstatSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { $ } from './exec.ts';
import { die } from './log.ts';
import { removeTree } from './safe-paths.ts';

/** ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts (a relative XDG_CACHE_HOME is ignored, as the XDG spec says). */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'osbuilder-ts');
}

/**
 * Remove everything in the user cache dir (the dir itself stays); returns the
 * names removed. The dir is ours by its name; a symlink there (to / or
 * $HOME...) is not followed: it is refused.
 */
export async function emptyUserCache(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const dir = userCacheDir(env);
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) return [];
  if (!st.isDirectory()) die(`${dir} is not a directory (a symlink?): osbuilder-ts's cache dir is only emptied when it is a directory of its own; remove ${dir} yourself`);
  const names = readdirSync(dir);
  // --one-file-system: a mount someone made inside the cache is not followed.
  for (const name of names) {
    const path = join(dir, name);
    // A rootless build's cached tree holds subordinate ids' files: removeTree hands it to the user namespace.
    if ((await $({ nothrow: true })`rm -rf --one-file-system ${path}`).exitCode !== 0) await removeTree(path);
  }
  return names;
}
