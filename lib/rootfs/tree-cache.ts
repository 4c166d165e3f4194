// The distro-tree cache (DISTRO_CACHE_DIR): the tree right after the distro
// stage, one entry per distro-stage key (manifest.ts), so that a build whose
// distro inputs are unchanged copies it (reflinks where the filesystem has
// them) and only redoes the setup. An entry is written under a temporary name
// and renamed into place when complete; its entry.json records the tree's
// entry count and byte total, checked before and after every use, so a
// truncated or damaged entry is never used. At most DISTRO_CACHE_ENTRIES
// entries are kept, the least recently used evicted first.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { onCleanup } from '../core/cli.ts';
import { $ } from '../core/exec.ts';
import { die, info, step } from '../core/log.ts';
import { removeTree } from '../core/safe-paths.ts';
import { removeStaleTemps } from '../core/stale-temps.ts';
import { userCacheDir } from '../core/user-cache.ts';

const ENTRY_FORMAT = 1;
const TMP_PREFIX = '.tmp-';
const EVICT_PREFIX = '.evict-';

export interface TreeCache {
  dir: string;
  maxEntries: number;
}

/** What entry.json records of a cached tree. */
export interface EntryRecord {
  format: typeof ENTRY_FORMAT;
  /** The distro, for people looking at the cache. */
  distro: string;
  /** Number of paths in the tree (every type) and bytes of its regular files. */
  paths: number;
  bytes: number;
}

/** The cache, or undefined with DISTRO_CACHE_DIR=no. */
export function treeCacheFor(setting: string, maxEntries: number, env: NodeJS.ProcessEnv = process.env): TreeCache | undefined {
  if (setting === 'no') return undefined;
  const dir = setting || join(userCacheDir(env), 'distro-trees');
  if (!isAbsolute(dir)) die(`DISTRO_CACHE_DIR=${dir} is not an absolute path: give one, or no to never cache distro trees`);
  return { dir, maxEntries };
}

/** Paths and bytes of a tree (symlinks not followed). */
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
const treeOf = (cache: TreeCache, key: string) => join(entryDir(cache, key), 'tree');

function readRecord(path: string): EntryRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<EntryRecord>;
    if (r.format !== ENTRY_FORMAT || typeof r.paths !== 'number' || typeof r.bytes !== 'number') return undefined;
    return r as EntryRecord;
  } catch {
    return undefined;
  }
}

/** Why the tree at `tree` does not match its record, or undefined when it does. */
function damage(tree: string, record: EntryRecord | undefined): string | undefined {
  if (!record) return 'no readable entry.json (an interrupted write?)';
  if (!existsSync(tree)) return 'no tree';
  const st = treeStats(tree);
  if (st.paths !== record.paths || st.bytes !== record.bytes) {
    return `it holds ${st.paths} paths and ${st.bytes} bytes, its record says ${record.paths} and ${record.bytes}`;
  }
  return undefined;
}

/** Move an entry out of the way (atomic), then delete it. */
async function dropEntry(cache: TreeCache, key: string): Promise<void> {
  const aside = join(cache.dir, `${EVICT_PREFIX}${process.pid}-${key}`);
  try {
    renameSync(entryDir(cache, key), aside);
  } catch {
    return; // another build dropped it first
  }
  await removeTree(aside);
}

/**
 * Copy the cached tree of `key` to `dest` (which must not exist) and return
 * true; false when there is no usable entry (a damaged one is dropped).
 * The copy itself is checked against the entry's record: a truncated or
 * damaged entry, or an eviction racing the copy, shows there, in one walk.
 */
export async function restoreTree(cache: TreeCache, key: string, dest: string): Promise<boolean> {
  if (!existsSync(entryDir(cache, key))) return false;
  const record = readRecord(recordPath(cache, key));
  let why = record ? undefined : damage(treeOf(cache, key), record);
  if (!why) {
    const now = new Date();
    utimesSync(recordPath(cache, key), now, now); // least recently used goes first
    const cp = await step(`Copying the cached distro tree ${key.slice(0, 12)} to ${dest}`, () =>
      $({ nothrow: true })`cp -a --reflink=auto ${treeOf(cache, key)} ${dest}`);
    if (cp.signal) throw cp; // interrupted (Ctrl-C reaches cp too): no fallback build
    if (cp.exitCode !== 0) why = `the copy failed: ${cp.stderr.trim().split('\n')[0]}`;
  }
  const copied = why ?? damage(dest, record);
  if (!copied) return true;
  info(`Ignoring the cached distro tree ${entryDir(cache, key)}: ${copied}; the distro stage runs again`);
  await removeTree(dest);
  // Damaged in the cache, not a race with an eviction (which leaves no entry): drop it.
  if (existsSync(entryDir(cache, key)) && damage(treeOf(cache, key), record)) await dropEntry(cache, key);
  return false;
}

/** Store a copy of the distro-stage tree `src` as the entry of `key` (replacing one), then evict beyond the limit. */
export async function storeTree(cache: TreeCache, key: string, distro: string, src: string): Promise<void> {
  mkdirSync(cache.dir, { recursive: true });
  await removeStaleTemps(cache.dir, TMP_PREFIX);
  await removeStaleTemps(cache.dir, EVICT_PREFIX);
  const tmp = join(cache.dir, `${TMP_PREFIX}${process.pid}`);
  await removeTree(tmp);
  mkdirSync(tmp);
  const dropCleanup = onCleanup(() => removeTree(tmp));
  try {
    await step(`Saving the distro tree in the cache ${cache.dir}`, () => $`cp -a --reflink=auto ${src} ${join(tmp, 'tree')}`);
    const record: EntryRecord = { format: ENTRY_FORMAT, distro, ...treeStats(join(tmp, 'tree')) };
    writeFileSync(join(tmp, 'entry.json'), `${JSON.stringify(record, null, 2)}\n`);
    if (existsSync(entryDir(cache, key))) await dropEntry(cache, key);
    try {
      renameSync(tmp, entryDir(cache, key));
    } catch (e) {
      // A concurrent build of the same inputs stored it first: theirs is as good.
      if (!existsSync(entryDir(cache, key))) throw e;
    }
  } finally {
    await removeTree(tmp);
    dropCleanup();
  }
  await evict(cache, key);
}

/** Entry keys, most recently used first. */
export function entriesByUse(cache: TreeCache): string[] {
  if (!existsSync(cache.dir)) return [];
  const used = (key: string) => statSync(recordPath(cache, key), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return readdirSync(cache.dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => ({ key: e.name, used: used(e.name) }))
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
  return existsSync(entryDir(cache, key));
}
