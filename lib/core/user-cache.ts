// The builder's own cache on this host (kernels, packages): never in the repository.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'osbuilder-ts');
}
