// The distro-tree cache (DISTRO_CACHE_DIR): the tree right after the distro
// stage, one entry per distro-stage key (manifest.ts), so that a build whose
// distro inputs are unchanged copies it (reflinks where the filesystem has
// them) and only redoes the setup. An entry is written under a temporary name
// and renamed into place when complete; beside its tree it keeps the tree's
// listing (tree-listing.ts: every path's type, mode, owner, size, link target
// and data sha256), whose digest entry.json records. The copy taken out is
// listed and compared before use: a changed entry is named, dropped and never
// used. At most DISTRO_CACHE_ENTRIES entries are kept, the least recently used
// evicted first. The cache dir is ours only with our marker (cache-root.ts);
// nothing in it but our entries and temporaries is ever touched.
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { dirname, isAbsolute, join } from 'node:path';
import { onCleanup } from '../core/cli.ts';
import { checkCacheRoot, claimCacheRoot, type CacheRoot } from '../core/cache-root.ts';
import { $ } from '../core/exec.ts';
import { die, info, step, warn } from '../core/log.ts';
import { removeTree } from '../core/safe-paths.ts';
import { removeStaleTemps, tempOwner } from '../core/stale-temps.ts';
import { userCacheDir } from '../core/user-cache.ts';
import { firstDifference, knownFromStamps, listingDigest, listingStats, treeListing, treeStamps, type KnownSha } from './tree-listing.ts';

const ENTRY_FORMAT = 2;
const TMP_PREFIX = '.tmp-';
const EVICT_PREFIX = '.evict-';
/** An entry's name: the distro stage's key (manifest.ts distroStageKey). */
const KEY = /^[0-9a-f]{32}$/;
/** What an entry dir holds (entries of format 1 had no listing; stamps came later, optional). */
const ENTRY_FILES = new Set(['entry.json', 'listing', 'stamps', 'tree']);

export interface TreeCache {
  dir: string;
  maxEntries: number;
}

/** What entry.json records of a cached tree. */
export interface EntryRecord {
  format: typeof ENTRY_FORMAT;
  /** The distro, for people looking at the cache. */
  distro: string;
  /** Number of paths in the tree (every type, the top aside) and bytes of its regular files. */
  paths: number;
  bytes: number;
  /** sha256 of the listing file beside the tree. */
  listingSha256: string;
}

/** An entry dir of ours: a key's name, holding nothing but what an entry holds. */
function isEntryDir(dir: string, name: string): boolean {
  if (!KEY.test(name)) return false;
  try {
    return lstatSync(join(dir, name)).isDirectory() && readdirSync(join(dir, name)).every((n) => ENTRY_FILES.has(n));
  } catch {
    return false;
  }
}

const rootOf = (dir: string): CacheRoot => ({
  variable: 'DISTRO_CACHE_DIR',
  dir,
  kind: 'distro-trees',
  isOurs: (name) => tempOwner(name, TMP_PREFIX) !== undefined || tempOwner(name, EVICT_PREFIX) !== undefined || isEntryDir(dir, name),
});

/** The cache, or undefined with DISTRO_CACHE_DIR=no; a dir that is not ours (or is /, $HOME...) is refused here, before any work. */
export function treeCacheFor(setting: string, maxEntries: number, env: NodeJS.ProcessEnv = process.env): TreeCache | undefined {
  if (setting === 'no') return undefined;
  const dir = setting || join(userCacheDir(env), 'distro-trees');
  if (!isAbsolute(dir)) die(`DISTRO_CACHE_DIR=${dir} is not an absolute path: give one, or no to never cache distro trees`);
  checkCacheRoot(rootOf(dir), env);
  return { dir, maxEntries };
}

/** Paths and bytes of a tree (symlinks not followed), for people reading entry.json. */
export function treeStats(root: string): { paths: number; bytes: number } {
  let paths = 0;
  let bytes = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      paths++;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) bytes += lstatSync(path).size;
    }
  };
  walk(root);
  return { paths, bytes };
}

const entryDir = (cache: TreeCache, key: string) => join(cache.dir, key);
const recordPath = (cache: TreeCache, key: string) => join(entryDir(cache, key), 'entry.json');
const listingPath = (cache: TreeCache, key: string) => join(entryDir(cache, key), 'listing');
const treeOf = (cache: TreeCache, key: string) => join(entryDir(cache, key), 'tree');
const stampsPath = (cache: TreeCache, key: string) => join(entryDir(cache, key), 'stamps');

/**
 * What spares the check of a linked tree from reading every file: a file
 * that is still the entry's inode with the mtime it had when listed has the
 * listed content (a write in place changes the mtime). No stamps: all read.
 */
function knownDigests(cache: TreeCache, key: string, listing: string): KnownSha | undefined {
  try {
    return knownFromStamps(listing, readFileSync(stampsPath(cache, key), 'utf8'));
  } catch {
    return undefined;
  }
}

function checkKey(key: string): void {
  if (!KEY.test(key)) die(`internal: ${JSON.stringify(key)} is not a distro-stage key (32 hex digits)`);
}

/** The entry's record and listing, or why they cannot be used. */
function readEntry(cache: TreeCache, key: string): { record: EntryRecord; listing: string } | { why: string; older?: boolean } {
  let r: Partial<EntryRecord>;
  try {
    r = JSON.parse(readFileSync(recordPath(cache, key), 'utf8')) as Partial<EntryRecord>;
  } catch {
    return { why: 'no readable entry.json' };
  }
  if (typeof r.format === 'number' && r.format < ENTRY_FORMAT) return { why: `it is of an older format (${r.format}, without a content listing)`, older: true };
  if (r.format !== ENTRY_FORMAT || typeof r.listingSha256 !== 'string') return { why: 'its entry.json is not of this format' };
  let listing: string;
  try {
    listing = readFileSync(listingPath(cache, key), 'utf8');
  } catch {
    return { why: 'its listing is missing' };
  }
  if (listingDigest(listing) !== r.listingSha256) return { why: 'its listing does not match the digest in entry.json' };
  return { record: r as EntryRecord, listing };
}

/** Move an entry out of the way (atomic), then delete it. */
async function dropEntry(cache: TreeCache, key: string): Promise<void> {
  const aside = join(cache.dir, `${EVICT_PREFIX}${process.pid}-${key}`);
  try {
    fx.rename(entryDir(cache, key), aside);
  } catch {
    return; // another build dropped it first
  }
  await removeTree(aside);
}

/**
 * The tree's directories are made anew, its other entries hard-linked: the
 * setup that follows never writes into a file in place (lib/core/guest-tree.ts
 * replaces files by renaming a new one over them), so a shared inode keeps
 * the entry's bytes and metadata. Across filesystems, where links cannot go,
 * it is a copy (reflinks where the filesystem has them).
 */
async function takeOut(tree: string, dest: string, key: string, into: boolean) {
  // `into`: dest is the build container's /rootfs, a mount: no link reaches it, its contents become a copy.
  if (into) return step(`Copying the cached distro tree ${key.slice(0, 12)} into ${dest}`, () => $({ nothrow: true })`cp -a --reflink=auto ${tree}/. ${dest}`);
  const sameFs = statSync(tree).dev === statSync(dirname(dest)).dev;
  if (!sameFs) info(`The distro-tree cache ${dirname(dirname(tree))} is on another filesystem than ${dirname(dest)}: the cached tree is copied, not hard-linked (put both on one filesystem for the faster rebuild)`);
  const copy = () => step(`Copying the cached distro tree ${key.slice(0, 12)} to ${dest}`, () => $({ nothrow: true })`cp -a --reflink=auto ${tree} ${dest}`);
  if (!sameFs) return copy();
  const linked = await step(`Linking the cached distro tree ${key.slice(0, 12)} to ${dest}`, () => $({ nothrow: true })`cp -a -l ${tree} ${dest}`);
  if (linked.exitCode === 0 || linked.signal) return linked;
  // Links refused (fs.protected_hardlinks for a builder not owning the files, say): a copy does as well.
  info(`Could not hard-link the cached distro tree (${linked.stderr.trim().split('\n')[0]}): copying it instead`);
  await removeTree(dest);
  return copy();
}

/**
 * Mark the entry used now (the least recently used goes first); in a build
 * container the cache is read-only, and the caller outside marks it.
 */
export function touchEntry(cache: TreeCache, key: string): void {
  const now = new Date();
  try {
    fx.touch(recordPath(cache, key), now, now);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EROFS') throw e;
  }
}

/** Remove what is in `dir`, keeping `dir` (a mount point). */
async function emptyDir(dir: string): Promise<void> {
  for (const name of readdirSync(dir)) await removeTree(join(dir, name));
}

/**
 * Copy the cached tree of `key` to `dest` (which must not exist, or be an
 * empty dir that is kept) and return true; false when there is no usable entry. The copy is listed and compared
 * with the listing stored with the entry: a changed entry (or an eviction
 * racing the copy) shows there, in one walk, and the copy is not used. An
 * entry that is changed in the cache is dropped, so the next build stores a good one.
 */
export async function restoreTree(cache: TreeCache, key: string, dest: string): Promise<boolean> {
  checkKey(key);
  if (!isEntryDir(cache.dir, key)) return false;
  const kept = existsSync(dest);
  const entry = readEntry(cache, key);
  let why = 'why' in entry ? entry.why : undefined;
  let copyFailed = false;
  if ('record' in entry) {
    touchEntry(cache, key);
    const cp = await takeOut(treeOf(cache, key), dest, key, kept);
    if (cp.signal) throw cp; // interrupted (Ctrl-C reaches cp too): no fallback build
    if (cp.exitCode !== 0) {
      why = `the copy failed: ${cp.stderr.trim().split('\n')[0]}`;
      copyFailed = true;
    } else {
      const start = performance.now();
      let reused = 0;
      const stamps = knownDigests(cache, key, entry.listing);
      const known: KnownSha | undefined = stamps && ((rel, path) => {
        const sha = stamps(rel, path);
        if (sha) reused++;
        return sha;
      });
      const diff = firstDifference(entry.listing, treeListing(dest, known));
      if (diff) why = `its tree changed since it was stored: first at ${diff}`;
      else info(`Checked the copy against the entry's listing (${entry.record.paths} paths, ${entry.record.bytes} bytes; ${reused} files still the stored inode with its mtime, not re-read) in ${((performance.now() - start) / 1000).toFixed(2)} s`);
    }
  }
  if (!why) return true;
  const older = 'older' in entry && entry.older;
  const drop = existsSync(entryDir(cache, key)) && !copyFailed;
  (older ? info : warn)(`Not using the cached distro tree ${entryDir(cache, key)}: ${why}; ${drop ? 'it is dropped and ' : ''}the distro stage runs again`);
  await (kept ? emptyDir(dest) : removeTree(dest));
  if (drop) await dropEntry(cache, key);
  return false;
}

/**
 * A fresh temporary entry dir in the cache (swept stale ones first); removed
 * by the cleanup if the build dies. `suffix` tells apart two a build fills at once.
 */
export async function beginEntry(cache: TreeCache, suffix = ''): Promise<{ tmp: string; dropCleanup: () => void }> {
  claimCacheRoot(rootOf(cache.dir));
  await removeStaleTemps(cache.dir, TMP_PREFIX);
  await removeStaleTemps(cache.dir, EVICT_PREFIX);
  const tmp = join(cache.dir, `${TMP_PREFIX}${process.pid}${suffix && `-${suffix}`}`);
  await removeTree(tmp);
  fx.mkdir(tmp);
  return { tmp, dropCleanup: onCleanup(() => removeTree(tmp)) };
}

/** What an entry holds, written into the (empty) dir `tmp`: a copy of `src`, its listing and stamps, entry.json last. */
export async function fillEntry(tmp: string, distro: string, src: string): Promise<void> {
  await step(`Saving the distro tree in the cache ${dirname(tmp)}`, () => $`cp -a --reflink=auto ${src} ${join(tmp, 'tree')}`);
  const listing = await step('Listing the saved tree (type, mode, owner, size, content of every path)', async () => treeListing(join(tmp, 'tree')));
  fx.write(join(tmp, 'listing'), listing);
  fx.write(join(tmp, 'stamps'), treeStamps(join(tmp, 'tree'), listing));
  const record: EntryRecord = { format: ENTRY_FORMAT, distro, ...listingStats(listing), listingSha256: listingDigest(listing) };
  fx.write(join(tmp, 'entry.json'), `${JSON.stringify(record, null, 2)}\n`);
}

/** True when fillEntry completed in `tmp` (a build container fills it for a non-root caller). */
export const entryFilled = (tmp: string): boolean => existsSync(join(tmp, 'entry.json'));

/** Make the filled `tmp` the entry of `key` (replacing one), then evict beyond the limit. */
export async function commitEntry(cache: TreeCache, key: string, tmp: string): Promise<void> {
  checkKey(key);
  if (existsSync(entryDir(cache, key))) await dropEntry(cache, key);
  try {
    fx.rename(tmp, entryDir(cache, key));
  } catch (e) {
    // A concurrent build of the same inputs stored it first: theirs is as good.
    if (!existsSync(entryDir(cache, key))) throw e;
  }
  await evict(cache, key);
}

/** Store a copy of the distro-stage tree `src` as the entry of `key` (replacing one), then evict beyond the limit. */
export async function storeTree(cache: TreeCache, key: string, distro: string, src: string): Promise<void> {
  checkKey(key);
  const { tmp, dropCleanup } = await beginEntry(cache);
  try {
    await fillEntry(tmp, distro, src);
    await commitEntry(cache, key, tmp);
  } finally {
    await removeTree(tmp);
    dropCleanup();
  }
}

/** Entry keys, most recently used first (only entries of ours: anything else in the dir is never touched). */
export function entriesByUse(cache: TreeCache): string[] {
  if (!existsSync(cache.dir)) return [];
  const used = (key: string) => statSync(recordPath(cache, key), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return readdirSync(cache.dir)
    .filter((name) => isEntryDir(cache.dir, name))
    .map((key) => ({ key, used: used(key) }))
    .sort((a, b) => b.used - a.used)
    .map((e) => e.key);
}

/** Drop the least recently used entries beyond the limit, never `keep`. */
export async function evict(cache: TreeCache, keep: string): Promise<void> {
  const rest = entriesByUse(cache).filter((k) => k !== keep);
  for (const key of rest.slice(cache.maxEntries - 1)) {
    info(`Evicting the least recently used distro tree ${entryDir(cache, key)} (DISTRO_CACHE_ENTRIES=${cache.maxEntries})`);
    await dropEntry(cache, key);
  }
}

/** There is an entry of `key` (whether it is complete and intact is checked when it is used). */
export function hasEntry(cache: TreeCache, key: string): boolean {
  return KEY.test(key) && isEntryDir(cache.dir, key);
}
