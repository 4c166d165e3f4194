// Whether this process runs in a user namespace (a rootless container,
// `unshare --user`): there root cannot create device nodes.
import { readFileSync } from 'node:fs';

/** The initial namespace maps every id onto itself: `0 0 4294967295`. */
export function insideUserNamespace(uidMapFile = '/proc/self/uid_map'): boolean {
  let map: string;
  try {
    map = readFileSync(uidMapFile, 'utf8');
  } catch {
    return false;
  }
  return map.trim().split(/\s+/).join(' ') !== '0 0 4294967295';
}
