// Unpacking a tarball at the rootfs root with no entry landing outside it.
// Upstream runs `tar -xvf` at the root, which follows symlinks already in the
// tree (Debian's var/run -> /run) or made by the archive itself. Here every
// entry is judged first, from the archive's headers and the tree as it is:
// an absolute name, a `..`, a path through a symlink that leaves the root, or
// a hard link to outside is refused with one ERROR naming the entry, before
// a single file is written. Only then does GNU tar unpack it, keeping owners
// (numeric, as the guest knows them) and modes.
import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { die, step } from '../core/log.ts';
import { planning } from '../core/plan.ts';
import { readTarEntries, tarCompression, type TarCompression, type TarEntry } from './tar-entries.ts';

/** A tarball named by a setting. */
export interface Tarball {
  variable: string;
  path: string;
  compression: TarCompression;
}

/** Entry types tar unpacks as plain files, links, devices, directories and fifos. */
const KNOWN_TYPES = new Set(['0', '1', '2', '3', '4', '5', '6', '7']);
const MAX_LINK_HOPS = 40;

/** What a path in the root is, as far as following it goes: a symlink's target, or undefined. */
type LinkLookup = (rel: string) => string | undefined;

class Refused extends Error {}

/**
 * Resolve `parts` (relative to the root) through symlinks, as the kernel
 * would when tar opens the path; the result is a path relative to the root.
 * `followLast`: the last part is followed too (a directory tar keeps).
 */
function resolveInRoot(parts: string[], followLast: boolean, linkAt: LinkLookup): string[] {
  const todo = [...parts];
  let cur: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!cur.length) throw new Refused('leads above ROOTFS_DIR');
      cur.pop();
      continue;
    }
    const next = [...cur, part];
    const target = todo.length === 0 && !followLast ? undefined : linkAt(next.join('/'));
    if (target === undefined) {
      cur = next;
      continue;
    }
    if (++hops > MAX_LINK_HOPS) throw new Refused(`has too many levels of symlinks at ${next.join('/')}`);
    if (target.startsWith('/')) throw new Refused(`goes through the symlink ${next.join('/')} -> ${target}, which leads out of ROOTFS_DIR`);
    todo.unshift(...target.split('/'));
  }
  return cur;
}

function nameProblem(name: string): string | undefined {
  if (name.startsWith('/')) return 'has an absolute name';
  if (name.split('/').includes('..')) return 'has a name with ..';
  return undefined;
}

/**
 * Check every entry; `root` (the tree it will be unpacked into) adds the
 * symlinks already there. Dies with one ERROR naming the first bad entry.
 */
export function checkTarEntries(entries: TarEntry[], tarball: Pick<Tarball, 'variable' | 'path'>, root?: string): void {
  /** Links the archive itself makes, by resolved path (undefined: made as a non-link). */
  const made = new Map<string, string | undefined>();
  const linkAt: LinkLookup = (rel) => {
    if (made.has(rel)) return made.get(rel);
    if (!root) return undefined;
    try {
      const path = join(root, rel);
      return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
    } catch {
      return undefined;
    }
  };
  for (const entry of entries) {
    const why = (() => {
      if (!KNOWN_TYPES.has(entry.type)) return `has the unsupported tar entry type '${entry.type}'`;
      const own = nameProblem(entry.name);
      if (own) return own;
      const parts = entry.name.split('/').filter((p) => p !== '' && p !== '.');
      if (!parts.length) return undefined; // the root itself: tar keeps its metadata (--no-overwrite-dir)
      try {
        const parent = resolveInRoot(parts.slice(0, -1), true, linkAt);
        const last = parts[parts.length - 1]!;
        const at = [...parent, last].join('/');
        if (entry.type === '5') {
          // tar keeps a symlink to a directory here (--keep-directory-symlink): it stays a link, the directory is its target.
          made.set(resolveInRoot([...parent, last], true, linkAt).join('/'), undefined);
        } else if (entry.type === '1') {
          if (entry.linkName.startsWith('/')) return `is a hard link to the absolute path ${entry.linkName}`;
          if (entry.linkName.split('/').includes('..')) return `is a hard link to ${entry.linkName}, a path with ..`;
          const tparts = entry.linkName.split('/').filter((p) => p !== '' && p !== '.');
          const tparent = resolveInRoot(tparts.slice(0, -1), true, linkAt);
          const target = [...tparent, tparts[tparts.length - 1] ?? ''].join('/');
          made.set(at, linkAt(target));
        } else {
          made.set(at, entry.type === '2' ? entry.linkName : undefined);
        }
      } catch (e) {
        if (e instanceof Refused) return e.message;
        throw e;
      }
      return undefined;
    })();
    if (why) die(`${tarball.variable}=${tarball.path}: entry ${entry.name} ${why}; nothing was unpacked: rebuild the tarball with paths relative to the rootfs root`);
  }
}

/** Check a tarball named by a setting before the build starts: readable, tar, every entry harmless in itself. */
export async function checkTarball(variable: string, path: string, root?: string): Promise<Tarball> {
  if (!existsSync(path) || !statSync(path).isFile()) die(`${variable}=${path} is not a file: give the path of a .tar.zst, .tar.gz or .tar`);
  const tarball = { variable, path, compression: tarCompression(path, variable) };
  checkTarEntries(await readTarEntries(path, tarball.compression), tarball, root);
  return tarball;
}

const TAR_FLAG: Record<TarCompression, string[]> = { zstd: ['--zstd'], gzip: ['--gzip'], none: [] };

/** Unpack at the root of `root`, after checking every entry against the tree as it is now. */
export async function unpackTarball(root: string, tarball: Tarball): Promise<void> {
  await step(`Unpacking ${tarball.variable} ${tarball.path}`, async () => {
    if (!planning()) checkTarEntries(await readTarEntries(tarball.path, tarball.compression), tarball, root);
    await $`tar -x ${TAR_FLAG[tarball.compression]} -f ${tarball.path} -C ${root} --numeric-owner --same-owner --same-permissions --keep-directory-symlink --no-overwrite-dir`;
  });
}
