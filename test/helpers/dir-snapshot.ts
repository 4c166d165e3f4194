// A directory as a sorted list of its paths with type, mode and (files) a
// sha256 of the bytes, (links) the target: for "nothing here changed" checks.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export function dirSnapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = join(rel, name);
      const st = lstatSync(join(dir, path));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${path} -> ${readlinkSync(join(dir, path))}`);
      else if (st.isDirectory()) {
        out.push(`${path}/ ${mode}`);
        walk(path);
      } else out.push(`${path} ${mode} ${createHash('sha256').update(readFileSync(join(dir, path))).digest('hex')}`);
    }
  };
  walk('');
  return out;
}

/**
 * A cheaper "nothing here changed" for big trees: every path's inode, type,
 * mode, owner, size, link target and mtime/ctime in nanoseconds, no bytes
 * read. Any create, remove, rename, replace, write, chmod, chown or xattr
 * change under dir shows (ctime moves even when a writer restores mtime).
 */
export function inodeStamp(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = join(rel, name);
      const st = lstatSync(join(dir, path), { bigint: true });
      out.push(`${path} ${st.ino} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeNs} ${st.ctimeNs}${st.isSymbolicLink() ? ` -> ${readlinkSync(join(dir, path))}` : ''}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk('');
  return out;
}
