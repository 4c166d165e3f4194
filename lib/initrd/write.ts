// Write a planned archive through the compressor into a file, atomically:
// the output appears under its name only when complete.
import { createHash } from 'node:crypto';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { onCleanup } from '../core/cli.ts';
import { CpioStreamWriter } from './cpio-stream.ts';
import { $ } from '../core/exec.ts';
import type { PlannedEntry } from './tree.ts';
import { removeStaleTemps } from '../core/stale-temps.ts';

async function writeEntries(writer: CpioStreamWriter, entries: PlannedEntry[]): Promise<void> {
  for (const e of entries) await writer.add(e.header, e.name, e.body);
  await writer.finish();
}

/**
 * Stream `entries` as newc cpio through `compressor` (argv, or none) into `out`.
 * `beforeRename(tmp, sha256)` sees the finished file before it is moved into
 * place and returns what to do right after the move (the SBOM beside it);
 * `sha256` is the file's digest when its bytes passed through here
 * (uncompressed), undefined when a compressor wrote them.
 */
export async function writeInitrd(
  entries: PlannedEntry[], out: string, compressor: string[] | undefined,
  beforeRename?: (tmp: string, sha256: string | undefined) => Promise<() => void>,
): Promise<void> {
  await removeStaleTemps(dirname(out), `${basename(out)}.tmp-`);
  const tmp = `${out}.tmp-${process.pid}`;
  const dropCleanup = onCleanup(() => rmSync(tmp, { force: true }));
  let sha256: string | undefined;
  try {
    if (!compressor) {
      const hash = createHash('sha256');
      await writeEntries(new CpioStreamWriter(createWriteStream(tmp), hash), entries);
      sha256 = hash.digest('hex');
    } else {
      const proc = $({ quiet: true })`exec ${compressor} > ${tmp}`;
      const writing = writeEntries(new CpioStreamWriter(proc.stdin), entries);
      try {
        await Promise.all([writing, proc]);
      } catch (e) {
        // A failing compressor (disk full...) also breaks the writer's pipe
        // (EPIPE): report the compressor's error, which says why. Closing
        // its input ends it when the writer failed on its own.
        proc.stdin.destroy();
        throw (await proc.then(() => undefined, (err: unknown) => err)) ?? e;
      }
    }
    const afterRename = await beforeRename?.(tmp, sha256);
    renameSync(tmp, out);
    afterRename?.();
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    dropCleanup();
  }
}
