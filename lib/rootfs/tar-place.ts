// Where each tar entry goes in a tree, resolved as the guest will see it: a
// symlink's absolute target starts again at the tree's root, `..` stops
// there, and the last component of a name is never followed (an existing
// symlink there is replaced), except that a symlink to a directory stays
// when the entry is a directory (tar's --keep-directory-symlink). The same
// decision is made twice: against a model of the tree while the archive is
// read (so every refusal comes before the first write), then against the disk
// just before each write (which must agree).
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { TarEntry } from './tar-read.ts';

/** What is at a path of the tree. `made`: by this archive; `fresh`: a directory this archive made empty. */
export type TreeNode =
  | { kind: 'dir'; made: boolean; fresh: boolean }
  | { kind: 'file' | 'other'; made: boolean }
  | { kind: 'link'; target: string; made: boolean };

/** Looks up a path of the tree (relative to its root, no symlink in it). `underFresh`: the parent is a fresh directory. */
export interface TreeView {
  at(rel: string, underFresh: boolean): TreeNode | undefined;
  /** The tree is not built yet (a check before a DISTRO build): what is not in the archive may still come. */
  treeUnknown?: boolean;
}

/** The tree on disk. */
export function diskView(root: string): TreeView {
  return {
    at(rel) {
      let st;
      try {
        st = lstatSync(join(root, rel));
      } catch {
        return undefined;
      }
      if (st.isSymbolicLink()) return { kind: 'link', target: readlinkSync(join(root, rel)), made: false };
      if (st.isDirectory()) return { kind: 'dir', made: false, fresh: false };
      return { kind: st.isFile() ? 'file' : 'other', made: false };
    },
  };
}

/** The tree on disk with this archive's entries laid over it, nothing written. */
export class ModelView implements TreeView {
  private readonly made = new Map<string, TreeNode>();
  private readonly disk: TreeView;
  readonly treeUnknown: boolean;

  constructor(root: string | undefined) {
    this.disk = root === undefined ? { at: () => undefined } : diskView(root);
    this.treeUnknown = root === undefined;
  }

  at(rel: string, underFresh: boolean): TreeNode | undefined {
    return this.made.get(rel) ?? (underFresh ? undefined : this.disk.at(rel, false));
  }

  apply(p: Placement, entry: TarEntry): void {
    for (const dir of p.mkdirs) this.made.set(dir, { kind: 'dir', made: true, fresh: true });
    if (p.op === 'keep') return;
    const kind = entry.kind === 'dir' ? 'dir' : entry.kind === 'file' ? 'file' : entry.kind === 'symlink' ? 'link' : 'other';
    if (kind === 'dir') this.made.set(p.rel, { kind, made: true, fresh: true });
    else if (kind === 'link') this.made.set(p.rel, { kind, target: entry.linkName, made: true });
    else if (entry.kind === 'hardlink') this.made.set(p.rel, { ...(this.at(p.target!, false) ?? { kind: 'file' }), made: true });
    else this.made.set(p.rel, { kind, made: true });
  }
}

export class PlaceRefusal extends Error {}

/** How to write one entry: make `mkdirs` (missing parents, in order), then `op` at `rel` (relative to the root). */
export interface Placement {
  mkdirs: string[];
  /** keep: nothing to write (an existing directory, a symlink to one, the root); dir: make a directory (replacing a non-directory); put: file, symlink, device or fifo, replacing what is there; link: hard link to `target`. */
  op: 'keep' | 'dir' | 'put' | 'link';
  rel: string;
  target?: string;
  /** A non-directory is there and goes (dir only: put and link rename over it). */
  replaces: boolean;
}

const MAX_HOPS = 40;

/** A directory path resolved in the tree: the existing part, and the missing directories below it. */
interface Resolved {
  parent: string[];
  missing: string[];
  fresh: boolean;
  /** Symlinks followed on the way. */
  hops: number;
}

/** Follow every component of `parts` (the last too) inside the tree. */
function resolveDir(view: TreeView, parts: string[]): Resolved {
  const todo = [...parts];
  let done: string[] = [];
  let fresh: boolean[] = [false];
  let hops = 0;
  while (todo.length) {
    const name = todo.shift()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      if (done.length) {
        done.pop();
        fresh.pop();
      }
      continue;
    }
    const rel = [...done, name].join('/');
    const node = view.at(rel, fresh[fresh.length - 1]!);
    if (!node) {
      const missing = [name, ...todo].filter((p) => p !== '' && p !== '.');
      if (missing.includes('..')) throw new PlaceRefusal(`goes through /${rel}, which does not exist, and then ..`);
      return { parent: done, missing, fresh: true, hops };
    }
    if (node.kind === 'link') {
      if (++hops > MAX_HOPS) throw new PlaceRefusal(`goes through too many levels of symlinks (at /${rel})`);
      if (node.target.startsWith('/')) {
        done = [];
        fresh = [false];
      }
      todo.unshift(...node.target.split('/'));
      continue;
    }
    if (node.kind !== 'dir') throw new PlaceRefusal(`goes through /${rel}, which is not a directory`);
    done.push(name);
    fresh.push(node.fresh);
  }
  return { parent: done, missing: [], fresh: fresh[fresh.length - 1]!, hops };
}

/**
 * The last parent directory resolved in each view. Entries come directory by
 * directory; a parent that exists and was reached through no symlink cannot
 * change by writing its children, so it is resolved once for all of them.
 */
const lastParent = new WeakMap<TreeView, { key: string; dir: Resolved }>();

function resolveParent(view: TreeView, parts: string[]): Resolved {
  const key = parts.join('/');
  const last = lastParent.get(view);
  if (last?.key === key) return last.dir;
  const dir = resolveDir(view, parts);
  if (!dir.missing.length && !dir.hops) lastParent.set(view, { key, dir });
  else lastParent.delete(view);
  return dir;
}

/** Missing directories to create, as paths relative to the root. */
function mkdirsOf(r: Resolved): string[] {
  return r.missing.map((_, i) => [...r.parent, ...r.missing.slice(0, i + 1)].join('/'));
}

function describe(node: TreeNode): string {
  return node.kind === 'dir' ? 'a directory' : node.kind === 'link' ? `a symlink to ${node.target}` : node.kind === 'file' ? 'a file' : 'a special file';
}

/**
 * Where `entry` (its name already checked: `parts`, no `.`/`..`) goes in the
 * tree `view` shows; PlaceRefusal when it cannot go anywhere inside it.
 */
export function placeEntry(view: TreeView, entry: TarEntry, parts: string[], linkParts: string[] | undefined): Placement {
  if (!parts.length) {
    if (entry.kind !== 'dir') throw new PlaceRefusal(`names the root of the tree but is a ${entry.kind}`);
    return { mkdirs: [], op: 'keep', rel: '', replaces: false };
  }
  const dir = resolveParent(view, parts.slice(0, -1));
  const mkdirs = mkdirsOf(dir);
  const last = parts[parts.length - 1]!;
  const rel = [...dir.parent, ...dir.missing, last].join('/');
  const here = dir.missing.length ? undefined : view.at(rel, dir.fresh);
  if (here?.made && !(here.kind === 'dir' && entry.kind === 'dir')) {
    throw new PlaceRefusal(`is named twice in the archive (an earlier entry made /${rel} ${describe(here)})`);
  }
  if (entry.kind === 'dir') {
    if (here?.kind === 'dir') return { mkdirs, op: 'keep', rel, replaces: false };
    if (here?.kind === 'link') {
      try {
        if (!resolveDir(view, rel.split('/')).missing.length) return { mkdirs, op: 'keep', rel, replaces: false };
      } catch (e) {
        if (!(e instanceof PlaceRefusal)) throw e;
      }
    }
    return { mkdirs, op: 'dir', rel, replaces: here !== undefined };
  }
  if (here?.kind === 'dir') throw new PlaceRefusal(`is a ${entry.kind}, but /${rel} is a directory in the tree`);
  if (entry.kind !== 'hardlink') return { mkdirs, op: 'put', rel, replaces: here !== undefined };
  if (!linkParts?.length) throw new PlaceRefusal(`is a hard link to the root of the tree`);
  const tdir = resolveDir(view, linkParts.slice(0, -1));
  const target = [...tdir.parent, ...tdir.missing, linkParts[linkParts.length - 1]!].join('/');
  const node = tdir.missing.length ? undefined : view.at(target, tdir.fresh);
  // Before a DISTRO build there is no tree yet: a link to one of its files is judged when the archive is unpacked.
  if (!node && view.treeUnknown) return { mkdirs, op: 'link', rel, target, replaces: here !== undefined };
  if (!node) throw new PlaceRefusal(`is a hard link to ${entry.linkName}, which is neither earlier in the archive nor in the tree`);
  if (node.kind === 'dir') throw new PlaceRefusal(`is a hard link to ${entry.linkName}, a directory`);
  return { mkdirs, op: 'link', rel, target, replaces: here !== undefined };
}

/**
 * The components of an entry name, or why it is refused: absolute, with
 * `..`, with `.` or an empty component inside, or ending in `/` when it is no
 * directory. A leading `./` (tar -C DIR .) is fine; `./` alone is the root.
 */
export function nameParts(name: string, isDir: boolean, what = 'name'): string[] | string {
  if (name === '') return `has an empty ${what}`;
  if (name.includes('\0')) return `has a NUL byte in its ${what}`;
  if (name.startsWith('/')) return `has an absolute ${what}`;
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  if (n === '.') n = '';
  if (n.endsWith('/')) {
    if (!isDir) return `has a ${what} ending in / but is not a directory`;
    n = n.slice(0, -1);
  }
  if (n === '') return [];
  const parts = n.split('/');
  if (parts.includes('..')) return `has a ${what} with ..`;
  if (parts.includes('.')) return `has a ${what} with . inside it`;
  if (parts.includes('')) return `has a ${what} with an empty component (//)`;
  if (parts.some((p) => Buffer.byteLength(p) > 255)) return `has a ${what} with a component longer than 255 bytes`;
  if (Buffer.byteLength(n) > 4000) return `has a ${what} longer than 4000 bytes`;
  return parts;
}
