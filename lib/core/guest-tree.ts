// The one way into a guest tree: every file the setup creates, replaces,
// links or removes inside a rootfs goes through here. A path is resolved as
// the guest will see it (an absolute link leads to the tree's own root, `..`
// stops there), and what is acted on, or handed to a host tool, is a host
// path with no symlink in it, so nothing follows a link out of the tree.
// A link that leads nowhere inside the tree, where something must be made
// under it, is refused by name. Files are replaced (a new file renamed over
// the old one), never written in place: a file hard-linked with another tree
// keeps its content there. Removals never follow a symlink.
import { constants, lstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { fx } from './effects.ts';
import { basename, dirname, join } from 'node:path';
import { $ } from './exec.ts';
import { die } from './log.ts';
import { guestPath } from './in-root.ts';
import { realPathOf } from './safe-paths.ts';

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}


/** A fresh name beside the file: a leftover of a killed run with the same pid is removed first. */
function tempBeside(dir: string, rel: string): string {
  const tmp = join(dir, `.${basename(rel)}.osbuilder-new-${process.pid}`);
  if (lstatOrUndefined(tmp) && !lstatSync(tmp).isDirectory()) fx.unlink(tmp);
  return tmp;
}

interface ReplaceOptions {
  /** The new file's mode (default: the replaced file's, else 0644 for a write, the source's for a copy). */
  mode?: number;
  /** The new file's owner (default: the replaced file's, else the builder's). */
  uid?: number;
  gid?: number;
}

export interface GuestTree {
  root: string;
  /** Host path of /rel, every link followed inside the tree (for reading; may not exist). */
  resolve(rel: string): string;
  /** Host path of the entry /rel itself: its directory resolved inside the tree, its last name not followed. */
  entry(rel: string): string;
  /** True when /rel exists as an entry (a dangling link counts). */
  has(rel: string): boolean;
  /** True when /rel is, links followed inside the tree, a regular file. */
  isFile(rel: string): boolean;
  /** The text of /rel, links followed inside the tree; undefined when it is not a file. */
  read(rel: string): string | undefined;
  /** Make /rel and its parents as directories; their host path. */
  mkdir(rel: string): string;
  /** Replace /rel with a file holding `data` (a link or file there is replaced, not written through). */
  write(rel: string, data: string | Uint8Array, opts?: ReplaceOptions): string;
  /** Replace /rel with a copy of the host file `source`. */
  copy(source: string, rel: string, opts?: ReplaceOptions): string;
  /** Replace /rel with a copy (`cp -a`) of the host directory `source`. */
  copyTree(source: string, rel: string): Promise<string>;
  /** Replace /rel with a symlink to `target`. */
  symlink(target: string, rel: string): string;
  /** Remove the entries (whole trees; a link itself, never what it points to), on this filesystem only. */
  remove(...rels: string[]): Promise<void>;
  /** Remove the single non-directory entry /rel, if there. */
  unlink(rel: string): void;
  /**
   * Refuse, naming the link, a directory whose host path (links followed as
   * the host does) is not where the guest sees it: for code that hands a
   * plain root/rel path to a host tool.
   */
  checkSameOnHost(rel: string, what: string): void;
}

export function guestTree(root: string): GuestTree {
  /** The last name of rel: an entry's own name, never `.` or `..` (they would name another directory). */
  const nameOf = (rel: string) => {
    const name = basename(rel);
    if (!name || name === '.' || name === '..' || rel.endsWith('/.') || rel.endsWith('/..')) die(`/${rel} in ${root} names no entry of its own: give a path ending in a name`);
    return name;
  };
  const entry = (rel: string) => join(guestPath(root, dirname(rel), { followLast: true, create: false }), nameOf(rel));
  const mkdir = (rel: string) => guestPath(root, rel, { followLast: true, create: true });

  /** Make the file at a temp name beside `rel`, then rename it over whatever is there. */
  const replace = (rel: string, make: (path: string) => void, opts: ReplaceOptions, defaultMode?: number): string => {
    const dir = mkdir(dirname(rel));
    const dest = join(dir, nameOf(rel));
    if (fx.planning) {
      // A plan shows the file at its place.
      make(dest);
      if (opts.uid !== undefined || opts.gid !== undefined) fx.chown(dest, opts.uid ?? -1, opts.gid ?? -1);
      if (opts.mode !== undefined) fx.chmod(dest, opts.mode);
      return dest;
    }
    const old = lstatOrUndefined(dest);
    if (old?.isDirectory()) die(`cannot replace /${rel} in ${root}: it is a directory`);
    const keep = old?.isFile() ? old : undefined;
    const tmp = tempBeside(dir, rel);
    try {
      make(tmp);
      const mode = opts.mode ?? (keep ? keep.mode & 0o7777 : defaultMode);
      const uid = opts.uid ?? keep?.uid;
      const gid = opts.gid ?? keep?.gid;
      if (uid !== undefined || gid !== undefined) fx.chown(tmp, uid ?? -1, gid ?? -1);
      if (mode !== undefined) fx.chmod(tmp, mode);
      fx.rename(tmp, dest);
    } catch (e) {
      try { fx.unlink(tmp); } catch { /* not made */ }
      throw e;
    }
    return dest;
  };

  return {
    root,
    resolve: (rel) => guestPath(root, rel, { followLast: true, create: false }),
    entry,
    has: (rel) => lstatOrUndefined(entry(rel)) !== undefined,
    isFile: (rel) => !!lstatOrUndefined(guestPath(root, rel, { followLast: true, create: false }))?.isFile(),
    read(rel) {
      const path = guestPath(root, rel, { followLast: true, create: false });
      return lstatOrUndefined(path)?.isFile() ? readFileSync(path, 'utf8') : undefined;
    },
    mkdir,
    write: (rel, data, opts = {}) => replace(rel, (path) => fx.write(path, data, { flag: 'wx' }), opts, 0o644),
    copy: (source, rel, opts = {}) => replace(rel, (path) => fx.copy(source, path, constants.COPYFILE_EXCL), opts),
    symlink(target, rel) {
      const dir = mkdir(dirname(rel));
      const dest = join(dir, nameOf(rel));
      if (fx.planning) {
        fx.symlink(target, dest);
        return dest;
      }
      if (lstatOrUndefined(dest)?.isDirectory()) die(`cannot replace /${rel} in ${root} with a symlink: it is a directory`);
      const tmp = tempBeside(dir, rel);
      fx.symlink(target, tmp);
      fx.rename(tmp, dest);
      return dest;
    },
    async copyTree(source, rel) {
      const dir = mkdir(dirname(rel));
      const dest = join(dir, nameOf(rel));
      const tmp = join(dir, `.${basename(rel)}.osbuilder-new-${process.pid}`);
      await $`rm -rf --one-file-system ${tmp}`;
      // cp makes tmp itself: nothing below it existed before, so it follows no link of the tree.
      await $`cp -a ${source} ${tmp}`;
      await $`rm -rf --one-file-system ${dest}`;
      fx.rename(tmp, dest);
      return dest;
    },
    async remove(...rels) {
      const paths = rels.map(entry);
      // rm neither follows a link given as an operand nor one inside a tree; the paths hold none.
      if (paths.length) await $`rm -rf --one-file-system ${paths}`;
    },
    unlink(rel) {
      const path = entry(rel);
      const st = lstatOrUndefined(path);
      if (st?.isDirectory()) die(`cannot remove /${rel} in ${root} as a file: it is a directory`);
      if (st || fx.planning) fx.unlink(path);
    },
    checkSameOnHost(rel, what) {
      const guest = guestPath(root, rel, { followLast: true, create: false });
      if (realPathOf(join(root, rel)) === realPathOf(guest)) return;
      let link = '';
      const parts = rel.split('/').filter(Boolean);
      for (let i = 1; i <= parts.length && !link; i++) {
        const host = join(root, ...parts.slice(0, i));
        if (lstatOrUndefined(host)?.isSymbolicLink()) link = `/${parts.slice(0, i).join('/')} -> ${readlinkSync(host)}`;
      }
      die(`${what} would follow the symlink ${link || `on the way to /${rel}`} in ${root} out of the rootfs (to ${realPathOf(join(root, rel))}): make it relative (the guest sees the same), or remove it`);
    },
  };
}
