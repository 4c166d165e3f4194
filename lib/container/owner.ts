// Giving a non-root caller what the build containers write for it. The
// containers run as root (the guest's files must be root's, and 0600 files of
// the tree are read), so before they exit they chown the caller's outputs
// (image, initrd, root hash file, SBOM) to the caller, and what they added to
// the package cache to that cache's owner.
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { join } from 'node:path';

/** Variable of the container's environment: `uid:gid` of a non-root caller; unset for root. */
export const OWNER_VARIABLE = 'CALLER_OWNER';

function parseOwner(owner: string): { uid: number; gid: number } | undefined {
  const m = /^(\d+):(\d+)$/.exec(owner);
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : undefined;
}

/** Chown each existing file of `paths` to the caller (OWNER_VARIABLE); nothing for a root caller. */
export function giveToCaller(paths: string[], env: NodeJS.ProcessEnv = process.env): void {
  const owner = parseOwner(env[OWNER_VARIABLE] ?? '');
  if (!owner) return;
  for (const path of paths) if (existsSync(path)) fx.lchown(path, owner.uid, owner.gid);
}

/** Everything below `dir` gets `dir`'s own owner (a cache the caller owns stays the caller's); nothing for a root caller. */
export function matchDirOwner(dir: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!parseOwner(env[OWNER_VARIABLE] ?? '') || !existsSync(dir)) return;
  const { uid, gid } = statSync(dir);
  const walk = (path: string) => {
    const st = lstatSync(path);
    if (st.uid !== uid || st.gid !== gid) fx.lchown(path, uid, gid);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
}
