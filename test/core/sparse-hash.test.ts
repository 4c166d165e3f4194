// tier: unit
// sha256OfSparseFile: the same digest as reading every byte, for sparse
// files with data, holes, a fallocated (unwritten) range and a hole at the
// end, on this disk (FIEMAP) and on tmpfs (no FIEMAP: the whole file is
// read); the filefrag parser refuses what it cannot trust.
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { parseFilefrag, sha256OfSparseFile } from '../../lib/core/sparse-hash.ts';

const dirs = [mkdtempSync('/var/tmp/osbuilder-sparse-'), mkdtempSync('/dev/shm/osbuilder-sparse-')];
test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const fullHash = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A 40 MiB file: data at 0 and at 3 MiB, an odd-sized write near the end of a block, unwritten 20-24 MiB, a hole to the end. */
async function sparseFile(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await $`truncate -s 40M ${path}`;
  await $`fallocate -o 20M -l 4M ${path}`;
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from('MBR sector'), 0, 10, 510);
    writeSync(fd, createHash('sha512').update('a').digest(), 0, 64, 3 << 20);
    writeSync(fd, Buffer.alloc(5000, 7), 0, 5000, (12 << 20) + 100);
  } finally {
    closeSync(fd);
  }
  return path;
}

for (const [i, where] of ['disk', 'tmpfs'].entries()) {
  test(`sparse file on ${where}: the digest of every byte`, async () => {
    const path = await sparseFile(dirs[i]!, 'image.img');
    assert.is(await sha256OfSparseFile(path), fullHash(path));
  });
}

test('a file without holes, an empty file, a file ending in data', async () => {
  const full = join(dirs[0]!, 'full');
  await $`head -c 5000000 /dev/urandom > ${full}`;
  assert.is(await sha256OfSparseFile(full), fullHash(full));
  const empty = join(dirs[0]!, 'empty');
  await $`truncate -s 0 ${empty}`;
  assert.is(await sha256OfSparseFile(empty), fullHash(empty));
  const tail = join(dirs[0]!, 'tail');
  await $`truncate -s 8M ${tail}`;
  await $`dd if=/dev/urandom of=${tail} bs=4096 seek=2047 count=1 conv=notrunc status=none`;
  assert.is(await sha256OfSparseFile(tail), fullHash(tail));
});

test('parseFilefrag: offsets in the listed block size, unwritten marked; inline or delayed extents are not trusted', () => {
  const head = 'Filesystem type is: ef53\nFile size of x is 67108864 (16384 blocks of 4096 bytes)\n ext:     logical_offset:        physical_offset: length:   expected: flags:\n';
  const lines = [
    '   0:      768..    1279:    7670528..   7671039:    512:        768:',
    '   1:     5120..    6143:    7668736..   7669759:   1024:    7674880: unwritten',
    '   2:     9000..    9002:    7672616..   7672618:      3:             last,eof',
  ];
  assert.equal(parseFilefrag(head + lines.join('\n') + '\nx: 2 extents found\n'), [
    { offset: 768 * 4096, bytes: 512 * 4096, unwritten: false },
    { offset: 5120 * 4096, bytes: 1024 * 4096, unwritten: true },
    { offset: 9000 * 4096, bytes: 3 * 4096, unwritten: false },
  ]);
  assert.is(parseFilefrag(head + '   0:        0..       0:          0..         0:      1:             last,not_aligned,inline,eof\n'), undefined);
  assert.is(parseFilefrag(head + '   0:        0..      15:          0..        15:     16:             last,unknown_loc,delalloc,eof\n'), undefined);
  assert.is(parseFilefrag('x: FIBMAP/FIEMAP unsupported\n'), undefined);
});

test.run();
