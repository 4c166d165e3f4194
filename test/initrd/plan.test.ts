// tier: unit
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../../lib/initrd/cpio.ts';
import { planArchive, type TreeRecord } from '../../lib/initrd/tree.ts';

let n = 0;
function rec(rel: string, mode: number, over: Partial<TreeRecord> = {}): TreeRecord {
  return {
    rel: Buffer.from(rel), abs: Buffer.from(`/src/${rel}`), mode, uid: 0, gid: 0, size: 0,
    mtime: 1000, rdev: 0, inode: `0:${++n}`, ...over,
  };
}

const dir = (rel: string, over: Partial<TreeRecord> = {}) => rec(rel, S_IFDIR | 0o755, over);
const file = (rel: string, size: number, over: Partial<TreeRecord> = {}) => rec(rel, S_IFREG | 0o644, { size, ...over });

test('root first, then byte order; parents before children', () => {
  const plan = planArchive([file('usr/b', 1), dir('usr'), dir(''), file('a-b', 1), dir('a'), file('a/z', 1), file('B', 1)]);
  assert.equal(plan.map((e) => e.name.toString()), ['.', 'B', 'a', 'a-b', 'a/z', 'usr', 'usr/b']);
});

test('/init -> /sbin/init is added in order, unless the tree has one', () => {
  const tree = [dir(''), dir('bin'), dir('sbin'), file('sbin/init', 10), dir('lib')];
  const plan = planArchive(tree, { initTarget: '/sbin/init' });
  assert.equal(plan.map((e) => e.name.toString()), ['.', 'bin', 'init', 'lib', 'sbin', 'sbin/init']);
  const init = plan.find((e) => e.name.toString() === 'init')!;
  assert.is(init.header.c_mode, S_IFLNK | 0o777);
  assert.is(init.header.c_uid, 0);
  assert.is(String(init.body), '/sbin/init');
  assert.is(init.header.c_filesize, '/sbin/init'.length);

  const own = planArchive([dir(''), rec('init', S_IFLNK | 0o777, { target: Buffer.from('/lib/systemd/systemd') })], { initTarget: '/sbin/init' });
  assert.is(own.length, 2);
  assert.is(String(own[1]!.body), '/lib/systemd/systemd');
  assert.is(planArchive([dir(''), dir('a')], { initTarget: '/sbin/init' }).at(-1)!.name.toString(), 'init');
});

test('hard links: one inode number, link count within the archive, data on the last link', () => {
  const plan = planArchive([dir(''), file('x', 7, { inode: 'L' }), file('y', 7, { inode: 'L' }), file('z', 3)]);
  const [x, y, z] = plan.slice(1);
  assert.is(x!.header.c_ino, y!.header.c_ino);
  assert.is.not(z!.header.c_ino, x!.header.c_ino);
  assert.equal([x!.header.c_nlink, y!.header.c_nlink, z!.header.c_nlink], [2, 2, 1]);
  assert.equal([x!.header.c_filesize, y!.header.c_filesize], [0, 7]);
  assert.is(x!.body, undefined);
  assert.equal(y!.body, { path: Buffer.from('/src/y'), size: 7 });
});

test('inode numbers are sequential in archive order, whatever the source inodes', () => {
  const a = planArchive([dir('', { inode: '9:9' }), file('b', 1, { inode: '9:5' }), file('a', 1, { inode: '9:7' })]);
  assert.equal(a.map((e) => e.header.c_ino), [1, 2, 3]);
});

test('directory link count is 2 + subdirectories', () => {
  const plan = planArchive([dir(''), dir('a'), dir('a/b'), dir('a/c'), file('a/f', 0), dir('d')]);
  const nlink = Object.fromEntries(plan.map((e) => [e.name.toString(), e.header.c_nlink]));
  assert.equal(nlink, { '.': 4, a: 4, 'a/b': 2, 'a/c': 2, 'a/f': 1, d: 2 });
});

test('mtimes are clamped to SOURCE_DATE_EPOCH, kept otherwise', () => {
  const tree = [dir('', { mtime: 5000 }), file('old', 0, { mtime: 100 }), file('new', 0, { mtime: 9000 })];
  const times = (epoch?: number) => planArchive(tree, { sourceDateEpoch: epoch }).map((e) => e.header.c_mtime);
  assert.equal(times(), [5000, 9000, 100]);
  assert.equal(times(1000), [1000, 1000, 100]);
});

test('device numbers of character and block devices', () => {
  const plan = planArchive([dir(''), rec('null', 0o020666, { rdev: 0x0103 }), rec('sda', 0o060660, { rdev: (8 << 8) | 16 })]);
  assert.equal(plan.slice(1).map((e) => [e.header.c_rdevmajor, e.header.c_rdevminor]), [[1, 3], [8, 16]]);
});

test.run();
