// The root of a cache the builder keeps (DISTRO_CACHE_DIR, PACKAGE_CACHE_DIR):
// it is ours only when we made it, which a marker file we write on creation
// says. A dir that is not empty and has no marker is refused before any work
// (its contents are someone's files), unless everything in it is recognisably
// an entry of ours (a cache from before the marker existed): then it is
// adopted. In a marked dir, what we did not make is left alone and named once.
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { fx } from './effects.ts';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { die, info, warn } from './log.ts';
import { realPathOf, unsafeRootfsReason } from './safe-paths.ts';

export const CACHE_MARKER = '.osbuilder-ts-cache';

export interface CacheRoot {
  /** The setting's name, for messages: DISTRO_CACHE_DIR. */
  variable: string;
  dir: string;
  /** What the cache holds ("distro-trees", "packages"): one dir never serves two. */
  kind: string;
  /** True for a name in the dir that the builder makes (entries, its temporaries, its own files). */
  isOurs: (name: string) => boolean;
}

/** The project's checkout: a cache must never contain it. */
const projectDir = () => realPathOf(join(dirname(new URL(import.meta.url).pathname), '../..'));

/** Why `dir` can never be a cache (the host root, a system dir, $HOME, the project's parent), or undefined. */
function unsafeCacheReason(dir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const system = unsafeRootfsReason(dir);
  if (system) return system;
  const real = realPathOf(dir);
  for (const home of new Set([env.HOME, homedir()].filter((h): h is string => !!h && isAbsolute(h)))) {
    if (real === realPathOf(home)) return `it is the home directory ${home}`;
  }
  const project = projectDir();
  if (project === real || project.startsWith(`${real}/`)) return `it contains the project checkout ${project}`;
  return undefined;
}

/** The kind the dir's marker names; '' for a marker that does not parse (no proof of anything), undefined without one. */
function markerKind(dir: string): string | undefined {
  if (!existsSync(join(dir, CACHE_MARKER))) return undefined;
  try {
    const kind = (JSON.parse(readFileSync(join(dir, CACHE_MARKER), 'utf8')) as { kind?: unknown } | null)?.kind;
    return typeof kind === 'string' ? kind : '';
  } catch {
    return '';
  }
}

/** Names in the dir the builder did not make (the marker aside). */
function foreignNames(root: CacheRoot): string[] {
  if (!existsSync(root.dir)) return [];
  return readdirSync(root.dir).filter((n) => n !== CACHE_MARKER && !root.isOurs(n)).sort();
}

const shortList = (names: string[]) => (names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', '));

/**
 * Refuse a dir that is unsafe or holds someone else's files; reads only.
 * Call it before any work, then claimCacheRoot before the first write.
 */
export function checkCacheRoot(root: CacheRoot, env: NodeJS.ProcessEnv = process.env): void {
  const { variable, dir } = root;
  const fix = `set ${variable} to an empty or new directory of its own, or to no`;
  const unsafe = unsafeCacheReason(dir, env);
  if (unsafe) die(`refusing ${variable}=${dir}: ${unsafe}; ${fix}`);
  if (!existsSync(dir)) return;
  if (!lstatSync(dir).isDirectory()) die(`${variable}=${dir} is not a directory: ${fix}`);
  const kind = markerKind(dir);
  if (kind !== undefined) {
    if (kind !== root.kind) die(`${variable}=${dir} is osbuilder-ts's cache of ${kind || 'something else'} (its ${CACHE_MARKER} says so), not of ${root.kind}: ${fix}`);
    warnForeign(root);
    return;
  }
  const foreign = foreignNames(root);
  if (foreign.length) {
    die(`${variable}=${dir} is not empty and was not made by osbuilder-ts (no ${CACHE_MARKER}; it holds ${shortList(foreign)}): ${fix}`);
  }
}

const warned = new Set<string>();

function warnForeign(root: CacheRoot): void {
  const foreign = foreignNames(root);
  if (!foreign.length || warned.has(root.dir)) return;
  warned.add(root.dir);
  warn(`${root.variable}=${root.dir} holds files osbuilder-ts did not make, left alone: ${shortList(foreign)}`);
}

/**
 * Make the dir ours before the first write: create it with the marker, or
 * adopt an unmarked dir holding only our entries. Names what it leaves alone, once.
 */
export function claimCacheRoot(root: CacheRoot, env: NodeJS.ProcessEnv = process.env): void {
  checkCacheRoot(root, env);
  const fresh = !existsSync(root.dir) || readdirSync(root.dir).length === 0;
  fx.mkdir(root.dir, { recursive: true });
  if (markerKind(root.dir) === undefined) {
    try {
      fx.write(join(root.dir, CACHE_MARKER), `${JSON.stringify({ kind: root.kind, by: 'osbuilder-ts' })}\n`, { flag: 'wx' });
      if (!fresh) info(`${root.variable}=${root.dir} holds only osbuilder-ts cache entries: marked as ours (${CACHE_MARKER})`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another build marked it first
    }
  }
  warnForeign(root);
}
