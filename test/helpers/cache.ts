// A cache for heavy test artifacts (kernels, test agents, rootfs trees),
// outside the repository. Keys must cover every input of the artifact, so a
// stale entry can never hide a change.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const cacheRoot = process.env.OSBUILDER_TEST_CACHE ?? '/var/cache/osbuilder-ts-test';

export function hashOf(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Hash of files' contents (paths relative to the repo root). */
export function hashFiles(...relPaths: string[]): string {
  const root = new URL('../../', import.meta.url).pathname;
  return hashOf(...relPaths.flatMap((p) => [p, readFileSync(join(root, p))]));
}

const pending = new Map<string, Promise<string>>();

/**
 * Return `<cacheRoot>/<name>-<key>`, creating it with `make(tmpDir)` when
 * missing. `make` fills a temporary directory that is renamed into place only
 * when complete.
 */
export function cached(name: string, key: string, make: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(cacheRoot, `${name}-${key}`);
  let p = pending.get(dir);
  if (!p) {
    p = (async () => {
      if (existsSync(dir)) return dir;
      mkdirSync(cacheRoot, { recursive: true });
      const tmp = `${dir}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp);
      try {
        await make(tmp);
        try {
          renameSync(tmp, dir);
        } catch (e) {
          // Another test process finished the same entry first: use theirs.
          if (!existsSync(dir)) throw e;
          rmSync(tmp, { recursive: true, force: true });
        }
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
      return dir;
    })();
    pending.set(dir, p);
  }
  return p;
}
