// Reading the files a user names (agent binaries, tarballs, policy and
// versions files) whatever their size: hashes are computed a chunk at a time,
// and a file read as text has a size limit that its ERROR names, instead of
// node's "File size is greater than 2 GiB" or "Cannot create a string longer
// than …".
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { die } from './log.ts';

const chunk = Buffer.alloc(4 << 20);

/** sha256 (hex) of what the open file `fd` holds from its current offset. */
export function sha256OfFd(fd: number): string {
  const h = createHash('sha256');
  for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0;) h.update(chunk.subarray(0, n));
  return h.digest('hex');
}

/** sha256 (hex) of a file of any size. */
export function sha256OfFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    return sha256OfFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Text files the builders read whole (versions.yaml, a root hash file...) are small; this is far above any. */
const TEXT_FILE_LIMIT = 64 << 20;

/** The text of a small file; a larger one is one ERROR naming `what` (e.g. `KATA_VERSIONS_FILE=/x`). */
export function readTextFile(path: string, what: string, limit = TEXT_FILE_LIMIT): string {
  const size = statSync(path).size;
  if (size > limit) die(`${what} is ${size} bytes, more than the ${limit >> 20} MiB such a file can be: give the right file`);
  return readFileSync(path, 'utf8');
}
