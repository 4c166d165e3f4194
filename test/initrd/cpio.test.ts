// tier: unit
import { mkdtempSync, createWriteStream, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  NEWC_HEADER_SIZE, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, devMajor, devMinor, encodeNewcHeader, encodeTrailer, pad4,
  parseNewc, type NewcHeader,
} from '../../lib/initrd/cpio.ts';
import { CpioStreamWriter } from '../../lib/initrd/cpio-stream.ts';
import { $ } from '../../lib/core/exec.ts';

const header = (over: Partial<NewcHeader>): NewcHeader => ({
  c_ino: 1, c_mode: S_IFREG | 0o644, c_uid: 0, c_gid: 0, c_nlink: 1, c_mtime: 0, c_filesize: 0,
  c_devmajor: 0, c_devminor: 0, c_rdevmajor: 0, c_rdevminor: 0, ...over,
});

test('header: 110 ASCII bytes, name NUL-terminated, padded to 4', () => {
  for (const name of ['a', 'ab', 'abc', 'abcd', 'usr/lib/x86_64-linux-gnu']) {
    const h = encodeNewcHeader(header({ c_ino: 0x1234, c_filesize: 5 }), name);
    assert.is(h.length % 4, 0, name);
    assert.is(h.length, NEWC_HEADER_SIZE + name.length + 1 + pad4(NEWC_HEADER_SIZE + name.length + 1));
    assert.is(h.toString('latin1', 0, 6), '070701');
    assert.is(h.toString('latin1', 6, 14), '00001234');
    assert.is(h.toString('latin1', 94, 102), (name.length + 1).toString(16).padStart(8, '0'));
    assert.is(h[NEWC_HEADER_SIZE + name.length], 0);
  }
});

test('fields that do not fit 32 bits are refused', () => {
  assert.throws(() => encodeNewcHeader(header({ c_filesize: 2 ** 32 }), 'big'), /c_filesize.*32 bits/);
  assert.throws(() => encodeNewcHeader(header({ c_uid: -1 }), 'neg'), /c_uid/);
});

test('dev_t split as glibc major()/minor()', () => {
  assert.equal([devMajor(0x0103), devMinor(0x0103)], [1, 3]); // makedev(1, 3)
  const big = (259 & 0xfff) << 8 | (0x12345 & 0xff) | ((0x12345 & ~0xff) << 12);
  assert.equal([devMajor(big), devMinor(big)], [259, 0x12345]);
});

test('parse reads back what was encoded, up to the trailer', () => {
  const body = Buffer.from('hello');
  const archive = Buffer.concat([
    encodeNewcHeader(header({ c_mode: S_IFDIR | 0o755, c_nlink: 2 }), '.'),
    encodeNewcHeader(header({ c_ino: 2, c_filesize: 5, c_mtime: 1700000000, c_uid: 1000 }), 'f'),
    body, Buffer.alloc(pad4(5)),
    encodeTrailer(),
  ]);
  const members = parseNewc(archive);
  assert.equal(members.map((m) => m.name), ['.', 'f']);
  assert.is(members[1]!.body.toString(), 'hello');
  assert.is(members[1]!.c_mtime, 1700000000);
  assert.is(members[1]!.c_uid, 1000);
  assert.throws(() => parseNewc(archive.subarray(0, 50)), /truncated/);
});

test('GNU cpio reads a streamed archive: types, hard links, device numbers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
  try {
    const path = join(dir, 'a.cpio');
    const writer = new CpioStreamWriter(createWriteStream(path));
    const big = Buffer.alloc(3 * (1 << 20) + 7, 'x'); // spans several write chunks
    await writer.add(header({ c_mode: S_IFDIR | 0o755, c_nlink: 2 }), '.');
    await writer.add(header({ c_ino: 2, c_filesize: big.length }), 'big', big);
    await writer.add(header({ c_ino: 3, c_nlink: 2 }), 'hard1');
    await writer.add(header({ c_ino: 3, c_nlink: 2, c_filesize: 3 }), 'hard2', Buffer.from('abc'));
    await writer.add(header({ c_ino: 4, c_mode: S_IFLNK | 0o777, c_filesize: 3 }), 'link', Buffer.from('big'));
    await writer.add(header({ c_ino: 5, c_mode: S_IFCHR | 0o600, c_rdevmajor: 5, c_rdevminor: 1 }), 'console');
    await writer.finish();
    const listing = await $({ cwd: dir })`cpio -itv --quiet < a.cpio`;
    const lines = listing.stdout.trim().split('\n');
    assert.is(lines.length, 6);
    assert.match(lines[1]!, new RegExp(`-rw-r--r-- .* ${big.length} .* big$`));
    assert.match(lines[4]!, /^lrwxrwxrwx .* link -> big$/);
    assert.match(lines[5]!, /^crw------- .* 5,\s+1 .* console$/);
    await $({ cwd: dir })`mkdir x && cd x && cpio -id --quiet < ../a.cpio`;
    assert.is(readFileSync(join(dir, 'x/hard1'), 'utf8'), 'abc');
    assert.ok(readFileSync(join(dir, 'x/big')).equals(big));
    const inodes = await $({ cwd: join(dir, 'x') })`stat -c %i hard1 hard2`;
    const [i1, i2] = inodes.stdout.trim().split('\n');
    assert.is(i1, i2, 'hard1 and hard2 are one file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
