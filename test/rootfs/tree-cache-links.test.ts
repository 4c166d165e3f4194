// The distro-tree cache hands out hard links: the restored tree shares the
// entry's inodes, and every kind of write the setup makes into it (a file
// replaced, rewritten with another mode or owner, a link or file put over
// one, a tarball unpacked over it, removals) leaves the entry and an earlier
// rootfs linked from the same entry unchanged, content, metadata and times.
// Across filesystems the tree is copied, which one INFO line says. A file
// edited in place through a finished rootfs is caught at the next use.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { guestTree } from '../../lib/core/guest-tree.ts';
import { restoreTree, storeTree, type TreeCache } from '../../lib/rootfs/tree-cache.ts';
import { treeListing } from '../../lib/rootfs/tree-listing.ts';
import { unpackTarball } from '../../lib/rootfs/tar-unpack.ts';
import { withOutput } from '../helpers/stderr.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-tree-cache-links-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const KEY = createHash('sha256').update('links').digest('hex').slice(0, 32);
const cache: TreeCache = { dir: join(scratch, 'cache'), maxEntries: 2 };
const entryTree = join(cache.dir, KEY, 'tree');

/**
 * Content, type, mode, owner and mtime of every path. Not the link count or
 * ctime: every link made or dropped (a restore, a rename over a name) changes
 * those of the shared inode, by design.
 */
async function fingerprint(root: string): Promise<string> {
  const times = (await $`cd ${root} && find . ! -type d -printf '%p %T@\n' | sort`).stdout;
  return createHash('sha256').update(treeListing(root)).update(times).digest('hex');
}

/** What an mtime written in place needs to differ from the stored one. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

async function distroTree(): Promise<string> {
  const root = join(scratch, 'distro');
  for (const d of ['etc/systemd/system', 'usr/bin', 'usr/lib/systemd/system', 'var/lib/dpkg']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'etc/fstab'), '# fstab\n', { mode: 0o644 });
  writeFileSync(join(root, 'etc/resolv.conf'), 'nameserver 1.1.1.1\n');
  writeFileSync(join(root, 'etc/chrony.conf'), 'pool x\n', { mode: 0o640 });
  writeFileSync(join(root, 'usr/bin/tool'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(root, 'usr/bin/other'), '#!/bin/sh\necho other\n', { mode: 0o755 });
  writeFileSync(join(root, 'usr/lib/systemd/system/chronyd.service'), '[Service]\n');
  writeFileSync(join(root, 'var/lib/dpkg/status'), 'Package: x\n');
  symlinkSync('/usr/lib/systemd/system/chronyd.service', join(root, 'etc/systemd/system/chronyd.service'));
  return root;
}

let previous = '';
let before = '';

test.before(async () => {
  await storeTree(cache, KEY, 'debian', await distroTree());
  previous = join(scratch, 'previous');
  assert.ok(await restoreTree(cache, KEY, previous));
  guestTree(previous).write('etc/resolv.conf', '');
  before = await fingerprint(entryTree);
});

test('the restored tree is hard-linked from the entry (same filesystem)', async () => {
  const dest = join(scratch, 'linked');
  assert.ok(await restoreTree(cache, KEY, dest));
  assert.is(lstatSync(join(dest, 'usr/bin/tool')).ino, lstatSync(join(entryTree, 'usr/bin/tool')).ino);
  assert.is.not(lstatSync(join(dest, 'usr/bin')).ino, lstatSync(join(entryTree, 'usr/bin')).ino, 'directories are made anew');
});

test('every write the setup makes into a linked tree leaves the entry and the previous rootfs unchanged', async () => {
  const previousBefore = await fingerprint(previous);
  const dest = join(scratch, 'setup');
  assert.ok(await restoreTree(cache, KEY, dest));
  const tree = guestTree(dest);
  const tarDir = join(scratch, 'tar-src');
  mkdirSync(join(tarDir, 'usr/bin'), { recursive: true });
  writeFileSync(join(tarDir, 'usr/bin/other'), 'from a tarball\n', { mode: 0o700 });
  const tarball = join(scratch, 'guest.tar');
  await $`tar -C ${tarDir} --owner=0 --group=0 -cf ${tarball} usr`;
  await tick();
  const writes: [string, () => unknown][] = [
    ['a file rewritten', () => tree.write('etc/fstab', '# fstab\ntmpfs /run tmpfs\n')],
    ['a file rewritten with another mode (a chmod)', () => tree.write('etc/chrony.conf', 'pool x\n', { mode: 0o600 })],
    ['a file rewritten with another owner (a chown)', () => tree.write('usr/bin/tool', '#!/bin/sh\n', { uid: 1, gid: 1 })],
    ['a host file copied over one', () => tree.copy(join(tarDir, 'usr/bin/other'), 'usr/bin/tool', { mode: 0o755, uid: 0, gid: 0 })],
    ['a link put over a file', () => tree.symlink('../tmp', 'etc/resolv.conf')],
    ['a file written through an absolute link', () => tree.write('etc/systemd/system/chronyd.service', '[Service]\nExecStart=x\n')],
    ['a tarball unpacked over a file', () => unpackTarball(dest, { variable: 'GUEST_HOOKS_TARBALL', path: tarball, compression: 'none' })],
    ['removals', () => tree.remove('var/lib')],
  ];
  for (const [what, write] of writes) {
    await write();
    assert.is(await fingerprint(entryTree), before, `${what}: the cache entry is unchanged`);
    assert.is(await fingerprint(previous), previousBefore, `${what}: the previous rootfs is unchanged`);
  }
  assert.is(tree.read('etc/fstab'), '# fstab\ntmpfs /run tmpfs\n', 'the writes did land in the new tree');
  assert.is(lstatSync(join(dest, 'etc/chrony.conf')).mode & 0o7777, 0o600);
  assert.is(tree.read('usr/bin/other'), 'from a tarball\n');
  assert.not.ok(existsSync(join(dest, 'var/lib')));
});

test('across filesystems the tree is copied, and one INFO line says so', async () => {
  const other = mkdtempSync('/dev/shm/osbuilder-links-test-');
  try {
    if (lstatSync(other).dev === lstatSync(scratch).dev) return console.log('(skipped: /dev/shm is on the same filesystem here)');
    const dest = join(other, 'tree');
    const { text: out, value: ok } = await withOutput(process.stdout, () => restoreTree(cache, KEY, dest));
    assert.ok(ok);
    const lines = out.split('\n').filter((l) => /another filesystem/.test(l));
    assert.is(lines.length, 1, out);
    assert.match(lines[0]!, /^INFO: .* is on another filesystem than .*: the cached tree is copied, not hard-linked/);
    assert.is.not(lstatSync(join(dest, 'usr/bin/tool')).ino, lstatSync(join(entryTree, 'usr/bin/tool')).ino);
    assert.is(treeListing(dest), treeListing(entryTree));
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('a file edited in place in a finished rootfs (an inode shared with the entry) is caught at the next use: not used, dropped', async () => {
  await tick();
  appendFileSync(join(previous, 'usr/bin/other'), '# edited in place\n');
  const dest = join(scratch, 'after-edit');
  const { text: err, value: used } = await withOutput(process.stderr, () => restoreTree(cache, KEY, dest));
  assert.not.ok(used);
  assert.match(err, /WARNING: Not using the cached distro tree .*: its tree changed since it was stored: first at usr\/bin\/other/);
  assert.not.ok(existsSync(join(cache.dir, KEY)), 'dropped');
  assert.not.ok(existsSync(dest));
});

test.run();
