// A tree described by content, one line a path in a fixed order: type, mode,
// owner, size, and the link target, device number or sha256 of the data. The
// distro-tree cache records it when it stores an entry and compares the
// copy's before use, so any change to a cached tree shows, and where.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { sha256OfFd } from '../core/file-read.ts';
import { fileType, TYPE_LETTER } from '../core/file-type.ts';


/** sha256 of a regular file, read without following a link put in its place. */
function fileSha256(path: string, expected: Stats): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (st.ino !== expected.ino || st.dev !== expected.dev) return 'changed while read';
    return sha256OfFd(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A regular file's data digest known without reading it (the file is the
 * same inode, with the same mtime, as when it was hashed), or undefined.
 */
export type KnownSha = (rel: string, path: string) => string | undefined;

/**
 * The listing of the tree at `root`: a line a path, `"PATH"<tab>TYPE MODE UID:GID SIZE<tab>DATA` (JSON quoting keeps any name on its line).
 * `known`: digests that need no read (see KnownSha); type, mode, owner and size always come from the tree.
 */
export function treeListing(root: string, known?: KnownSha): string {
  const lines: string[] = [];
  const walk = (rel: string) => {
    const path = rel ? join(root, rel) : root;
    const st = lstatSync(path);
    const type = TYPE_LETTER[fileType(st)];
    const data = type === 'f' ? (known?.(rel, path) ?? fileSha256(path, st))
      : type === 'l' ? JSON.stringify(readlinkSync(path))
      : type === 'c' || type === 'b' ? String(st.rdev)
      : '-';
    const size = type === 'd' ? 0 : st.size; // a directory's size depends on the filesystem, not on what it holds
    lines.push(`${JSON.stringify(rel || '.')}\t${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${size}\t${data}`);
    if (type === 'd') for (const name of readdirSync(path).sort()) walk(rel ? join(rel, name) : name);
  };
  walk('');
  return `${lines.join('\n')}\n`;
}

/** Paths (the top aside) and bytes of regular files of a listing. */
export function listingStats(listing: string): { paths: number; bytes: number } {
  let paths = -1;
  let bytes = 0;
  for (const line of listing.split('\n')) {
    if (!line) continue;
    paths++;
    const meta = line.split('\t')[1]!.split(' ');
    if (meta[0] === 'f') bytes += Number(meta[3]);
  }
  return { paths, bytes };
}

/** Each regular file's inode and mtime (ns) in a tree, `"PATH"<tab>INO MTIME`: what tells later that a file is still the one hashed. */
export function treeStamps(root: string, listing: string): string {
  const lines: string[] = [];
  for (const line of listing.split('\n')) {
    const [path, meta] = line.split('\t');
    if (!meta?.startsWith('f ')) continue;
    const st = lstatSync(join(root, JSON.parse(path!) as string), { bigint: true });
    lines.push(`${path}\t${st.ino} ${st.mtimeNs}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A KnownSha from a listing and the stamps taken with it: a file still the same inode with the same mtime keeps its digest. */
export function knownFromStamps(listing: string, stamps: string): KnownSha {
  const sha = new Map<string, string>();
  for (const line of listing.split('\n')) {
    const [path, meta, data] = line.split('\t');
    if (meta?.startsWith('f ')) sha.set(JSON.parse(path!) as string, data!);
  }
  const stamp = new Map<string, string>();
  for (const line of stamps.split('\n')) {
    const [path, value] = line.split('\t');
    if (value) stamp.set(JSON.parse(path!) as string, value);
  }
  return (rel, path) => {
    const want = stamp.get(rel);
    if (want === undefined) return undefined;
    const st = lstatSync(path, { bigint: true });
    return `${st.ino} ${st.mtimeNs}` === want ? sha.get(rel) : undefined;
  };
}

export const listingDigest = (listing: string) => createHash('sha256').update(listing).digest('hex');

/** The first path, in walk order, whose line differs between two listings (and how), or undefined when they are equal. */
export function firstDifference(expected: string, actual: string): string | undefined {
  if (expected === actual) return undefined;
  const byPath = (listing: string) => new Map(listing.split('\n').filter(Boolean).map((line) => {
    const [path, meta, data] = line.split('\t');
    return [JSON.parse(path!) as string, { meta: meta!, data: data! }];
  }));
  const want = byPath(expected);
  const got = byPath(actual);
  for (const [path, e] of want) {
    const a = got.get(path);
    if (!a) return `${path} (missing)`;
    if (a.meta !== e.meta) return `${path} (type mode owner size: ${e.meta} -> ${a.meta})`;
    if (a.data !== e.data) return `${path} (${e.meta.startsWith('l') ? 'link target' : 'content'} differs)`;
  }
  const extra = [...got.keys()].find((path) => !want.has(path));
  return extra === undefined ? 'the listing (same paths, other order)' : `${extra} (not in the stored entry)`;
}
