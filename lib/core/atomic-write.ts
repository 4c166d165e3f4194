// Write-to-temp-then-rename, one way for every output (images, initrds,
// SBOMs, manifests, cached downloads): the temp is `.<name>.tmp-<pid>` beside
// the target (a name already hidden keeps its own dot), so a reader never
// sees half a file, a failed or interrupted write leaves nothing, and the temp
// of a process that died (SIGKILL) is swept by the next writer of that name
// (stale-temps.ts).
import { existsSync } from 'node:fs';
import { fx } from './effects.ts';
import { basename, dirname, join } from 'node:path';
import { onCleanup } from './cli.ts';
import { removeStaleTemps } from './stale-temps.ts';

/** The start of every temp name of `path`: what the stale-temp sweep looks for. */
export function tempPrefix(path: string): string {
  const name = basename(path);
  return `${name.startsWith('.') ? '' : '.'}${name}.tmp-`;
}

/** This process's temp for `path`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `${tempPrefix(path)}${process.pid}`);
}

/** An output written under its temp name; `commit` renames it into place, `discard` removes it. */
export interface StagedOutput {
  tmp: string;
  commit(): void;
  discard(): void;
}

/**
 * Stage `path`: sweep dead processes' temps of it, and remove this one on
 * failure or interrupt until committed. For outputs committed together
 * (an image, its root hash file and its SBOM), commit them one after the other.
 */
export async function stageOutput(path: string): Promise<StagedOutput> {
  await removeStaleTemps(dirname(path), tempPrefix(path));
  const tmp = tempPathFor(path);
  const remove = () => fx.remove(tmp, { recursive: true, force: true });
  if (existsSync(tmp)) remove(); // a leftover of an earlier process with this pid
  const drop = onCleanup(remove);
  return {
    tmp,
    commit: () => {
      fx.rename(tmp, path);
      drop();
    },
    discard: () => {
      remove();
      drop();
    },
  };
}

/**
 * Produce `path` through `fn(tmp)` (a command writing a file or a directory,
 * a stream...), then rename it into place; on failure the temp goes.
 * `keepExisting`: `path` is a cache entry another process may have made
 * first; theirs is kept and ours dropped.
 */
export async function atomicOutput<T>(path: string, fn: (tmp: string) => Promise<T>, opts: { keepExisting?: boolean } = {}): Promise<T> {
  const out = await stageOutput(path);
  try {
    const result = await fn(out.tmp);
    try {
      out.commit();
    } catch (e) {
      if (!opts.keepExisting || !existsSync(path)) throw e;
      out.discard();
    }
    return result;
  } catch (e) {
    out.discard();
    throw e;
  }
}

/** Write a small file in one step (manifests, records): temp, then rename; no temp is left on failure. */
export function writeFileAtomic(path: string, data: string | NodeJS.ArrayBufferView, mode?: number): void {
  const tmp = tempPathFor(path);
  try {
    fx.write(tmp, data, mode === undefined ? undefined : { mode });
    fx.rename(tmp, path);
  } catch (e) {
    fx.remove(tmp, { force: true });
    throw e;
  }
}
