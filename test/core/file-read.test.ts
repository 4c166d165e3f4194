// tier: unit
// Files a user names may be large: hashed a chunk at a time (node's whole-file
// read stops at 2 GiB), and a text file beyond its limit is one ERROR naming it.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readTextFile, sha256OfFile } from '../../lib/core/file-read.ts';
import { isBuildError } from '../helpers/errors.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-file-read-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

/** A sparse file of `bytes` with a few bytes of data at its end. */
function sparse(name: string, bytes: number): string {
  const path = join(scratch, name);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes - 4);
  closeSync(fd);
  writeFileSync(path, 'end\n', { flag: 'a' });
  return path;
}

test('a file over 2 GiB is hashed whole, as sha256sum does', async () => {
  const path = sparse('big.bin', 2 ** 31 + 4096);
  // sha256sum hashes in its own process while ours runs here (execFile has started it on return).
  const theirs = promisify(execFile)('sha256sum', [path]);
  const ours = sha256OfFile(path);
  assert.is(ours, (await theirs).stdout.split(' ')[0]);
});

/** A file of `bytes` with holes except for the `[offset, length]` runs of random data. */
function withHoles(name: string, bytes: number, data: [number, number][]): string {
  const path = join(scratch, name);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  for (const [offset, length] of data) writeSync(fd, randomBytes(length), 0, length, offset);
  closeSync(fd);
  return path;
}

test('holes at the start, in the middle and at the end, sizes not a multiple of the chunk: the digest is sha256sum\'s', async () => {
  const chunk = 4 << 20; // sha256OfFile's read size
  const files = [
    withHoles('hole-start.bin', 5 * chunk + 123, [[3 * chunk + 7, 2 * chunk]]),
    withHoles('hole-middle.bin', 7 * chunk + 1, [[0, chunk + 5], [6 * chunk, chunk + 1]]),
    withHoles('hole-end.bin', 4 * chunk + 4097, [[0, 3 * chunk - 1]]),
    withHoles('all-hole.bin', 3 * chunk + 9, []),
    withHoles('empty.bin', 0, []),
    withHoles('one-chunk.bin', chunk, [[chunk - 10, 10]]),
  ];
  const theirs = (await promisify(execFile)('sha256sum', files)).stdout.trim().split('\n').map((l) => l.split(' ')[0]);
  for (const [i, path] of files.entries()) {
    assert.is(sha256OfFile(path), theirs[i], `sha256OfFile ${path}`);
  }
});

test('small text is read; text over the limit is one ERROR naming the setting and the size', () => {
  const small = join(scratch, 'versions.yaml');
  writeFileSync(small, 'languages: {}\n');
  assert.is(readTextFile(small, `KATA_VERSIONS_FILE=${small}`), 'languages: {}\n');
  const big = sparse('huge.yaml', (64 << 20) + 1);
  assert.throws(() => readTextFile(big, `KATA_VERSIONS_FILE=${big}`), isBuildError(/^KATA_VERSIONS_FILE=\S+huge\.yaml is 67108865 bytes, more than the 64 MiB such a file can be/));
});

test.run();
