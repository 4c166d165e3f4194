// Initrd compression: which command turns the cpio stream into the file the
// kernel unpacks. gzip (every Kata guest kernel reads it) runs as pigz on all
// cores when installed; the headers carry no name and mtime 0, and the output
// does not depend on the number of threads, so builds are reproducible.
import { availableParallelism } from 'node:os';
import { haveCommand } from '../core/exec.ts';

type Compression = 'gzip' | 'zstd' | 'none';
export const COMPRESSIONS: Compression[] = ['gzip', 'zstd', 'none'];

/**
 * gzip level 5: on Debian rootfs trees (95 and 255 MB) the sorted archive
 * at -5 is within 0.4% of upstream's unsorted gzip -9, for about a fifth of
 * its CPU time; -6 costs 60% more CPU for 0.5% (bench/initrd.ts measures it).
 */
const GZIP_LEVEL = 5;
/** zstd level 12: within 2% of -15's size at a sixth of its time. */
const ZSTD_LEVEL = 12;

/** The compressor's argv (reads stdin, writes stdout), or undefined for none. */
function compressorCommand(kind: Compression, tools: { pigz: boolean; threads: number }): string[] | undefined {
  switch (kind) {
    case 'gzip':
      return tools.pigz
        ? ['pigz', `-${GZIP_LEVEL}`, '--no-name', '-p', String(tools.threads), '-c']
        : ['gzip', `-${GZIP_LEVEL}`, '--no-name', '-c'];
    case 'zstd':
      // zstd's multi-threaded output is the same for any worker count >= 1.
      return ['zstd', `-${ZSTD_LEVEL}`, `-T${tools.threads}`, '-q', '-c'];
    case 'none':
      return undefined;
  }
}

/** The command for this host (pigz when installed, all cores). */
export async function hostCompressor(kind: Compression): Promise<string[] | undefined> {
  return compressorCommand(kind, { pigz: kind === 'gzip' && (await haveCommand('pigz')), threads: availableParallelism() });
}
