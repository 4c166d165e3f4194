// The builder's own cache on this host (distro trees, packages, kernels): never in the repository.
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { $ } from './exec.ts';

/** ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'osbuilder-ts');
}

/** Remove everything in the user cache dir (the dir itself stays); returns the names removed. */
export async function emptyUserCache(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const dir = userCacheDir(env);
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir);
  // --one-file-system: a mount someone made inside the cache is not followed.
  for (const name of names) await $`rm -rf --one-file-system ${join(dir, name)}`;
  return names;
}
