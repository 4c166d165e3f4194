// Write a planned archive through the compressor into a file, atomically:
// the output appears under its name only when complete.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { stageOutput } from '../core/atomic-write.ts';
import { CpioStreamWriter } from './cpio-stream.ts';
import { $ } from '../core/exec.ts';
import type { PlannedEntry } from './tree.ts';

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
  const staged = await stageOutput(out);
  const tmp = staged.tmp;
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
    staged.commit();
    afterRename?.();
  } catch (e) {
    staged.discard();
    throw e;
  }
}
