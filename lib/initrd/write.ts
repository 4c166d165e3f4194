// Write a planned archive through the compressor into a file, atomically:
// the output appears under its name only when complete.
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
 * `beforeRename(tmp)` sees the finished file before it is moved into place
 * and returns what to do right after the move (the SBOM beside it).
 */
export async function writeInitrd(
  entries: PlannedEntry[], out: string, compressor: string[] | undefined,
  beforeRename?: (tmp: string) => Promise<() => void>,
): Promise<void> {
  await removeStaleTemps(dirname(out), `${basename(out)}.tmp-`);
  const tmp = `${out}.tmp-${process.pid}`;
  const dropCleanup = onCleanup(() => rmSync(tmp, { force: true }));
  try {
    if (!compressor) {
      await writeEntries(new CpioStreamWriter(createWriteStream(tmp)), entries);
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
    const afterRename = await beforeRename?.(tmp);
    renameSync(tmp, out);
    afterRename?.();
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    dropCleanup();
  }
}
