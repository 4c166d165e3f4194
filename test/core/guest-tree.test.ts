// The in-tree writer (lib/core/guest-tree.ts): writes, replacements, links
// and removals resolved as the guest sees the tree, through absolute and
// relative symlinks and `..` past the root, with a sentinel directory outside
// the tree that must never change.
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { guestTree } from '../../lib/core/guest-tree.ts';
import { pathInRoot } from '../../lib/core/safe-paths.ts';
import { dirSnapshot } from '../helpers/dir-snapshot.ts';
import { isBuildError } from '../helpers/errors.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-guest-tree-test-');
// Outside the tree, and not under a name the links themselves take (a link var -> /var/... is a loop in the guest).
const sentinels = mkdtempSync('/tmp/osbuilder-guest-tree-sentinel-');
test.after(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(sentinels, { recursive: true, force: true });
});

async function rejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.ok(isBuildError(re)(e as Error), (e as Error).message);
    return;
  }
  assert.unreachable('expected a rejection');
}

/** A tree whose every top-level directory leads outside it on the host: absolute links, relative ones climbing past the root. */
function hostileTree(name: string) {
  const base = join(scratch, name);
  const outside = join(sentinels, name);
  const root = join(base, 'root');
  for (const d of ['cache', 'lib', 'log', 'init.d']) mkdirSync(join(outside, d), { recursive: true });
  writeFileSync(join(outside, 'resolv.conf'), 'nameserver 1.1.1.1\n');
  writeFileSync(join(outside, 'init'), 'host init\n');
  mkdirSync(root, { recursive: true });
  symlinkSync(outside, join(root, 'var')); // absolute, to a directory outside
  symlinkSync('../../../../../../../../..' + outside, join(root, 'etc')); // relative, climbing past the root
  symlinkSync(outside, join(root, 'sbin'));
  return { root, outside, before: dirSnapshot(outside) };
}

test('absolute and relative links are the guest\'s: a write under one that leads nowhere inside is one ERROR naming it', () => {
  const { root, outside, before } = hostileTree('nowhere');
  const tree = guestTree(root);
  assert.throws(() => tree.write('var/lib/osbuilder/osbuilder.yaml', 'x'), isBuildError(new RegExp(`the symlink /var -> ${outside} leads to no directory inside the rootfs`)));
  assert.throws(() => tree.write('etc/resolv.conf', ''), isBuildError(/the symlink \/etc -> \.\.\/.* leads to no directory inside the rootfs/));
  assert.throws(() => tree.symlink('/init', 'sbin/init'), isBuildError(/the symlink \/sbin -> /));
  assert.throws(() => tree.mkdir('sbin'), isBuildError(/the symlink \/sbin -> /));
  assert.equal(dirSnapshot(outside), before, 'nothing outside changed');
});

test('removals resolve inside the tree and never follow a link', async () => {
  const { root, outside, before } = hostileTree('remove');
  const tree = guestTree(root);
  await tree.remove('var/cache', 'var/lib', 'var/log', 'etc/resolv.conf', 'sbin/init');
  tree.unlink('etc/resolv.conf');
  assert.equal(dirSnapshot(outside), before, 'nothing outside changed');
  // A link as the entry itself is removed, not what it points to.
  symlinkSync(outside, join(root, 'lib'));
  await tree.remove('lib');
  assert.not.ok(readdirSync(root).includes('lib'));
  assert.equal(dirSnapshot(outside), before, 'nothing outside changed after removing a link to it');
});

test('the same links, made to exist inside the tree, lead there: writes land in the tree as the guest sees it', async () => {
  const { root, outside, before } = hostileTree('inside');
  // The guest's view of the absolute target: <root><outside>.
  mkdirSync(join(root, outside, 'lib'), { recursive: true });
  writeFileSync(join(root, outside, 'init'), 'guest init\n');
  const tree = guestTree(root);
  const file = tree.write('var/lib/osbuilder/osbuilder.yaml', 'summary\n');
  assert.is(file, join(root, outside, 'lib/osbuilder/osbuilder.yaml'));
  assert.is(readFileSync(file, 'utf8'), 'summary\n');
  assert.is(tree.write('etc/resolv.conf', ''), join(root, outside, 'resolv.conf'));
  tree.copy(join(outside, 'init'), 'sbin/init');
  assert.is(readFileSync(join(root, outside, 'init'), 'utf8'), 'host init\n');
  await tree.remove('var/lib');
  assert.not.ok(readdirSync(join(root, outside)).includes('lib'));
  mkdirSync(join(root, 'usr'));
  assert.is(tree.resolve('usr/../../../var/./lib'), join(root, outside, 'lib'), '`..` stops at the root');
  assert.is(pathInRoot(root, 'etc/resolv.conf'), join(root, outside, 'resolv.conf'));
  assert.equal(dirSnapshot(outside), before, 'nothing outside changed');
});

test('a relative link and `..` past the root stay inside', () => {
  const root = join(scratch, 'relative');
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('../../../../lib', join(root, 'usr/up')); // climbs past the root: the guest's /lib
  const tree = guestTree(root);
  assert.is(tree.write('lib/modules/x/modules.dep', 'dep\n'), join(root, 'usr/lib/modules/x/modules.dep'));
  assert.is(tree.write('usr/up/y', 'y\n'), join(root, 'usr/lib/y'));
  assert.is(tree.write('../../etc/hostname', 'guest\n'), join(root, 'etc/hostname'));
  assert.is(readFileSync(join(root, 'etc/hostname'), 'utf8'), 'guest\n');
});

test('a directory tree copied in replaces the one there, through the tree\'s links, leaving no temp', async () => {
  const root = join(scratch, 'copy-tree');
  const modules = join(scratch, 'modules/6.1.0-test');
  mkdirSync(modules, { recursive: true });
  writeFileSync(join(modules, 'modules.dep'), 'kernel/x.ko:\n');
  const outside = join(sentinels, 'usr-lib');
  mkdirSync(join(outside, 'modules/6.1.0-test'), { recursive: true });
  const before = dirSnapshot(outside);
  mkdirSync(join(root, outside, 'modules/6.1.0-test'), { recursive: true });
  writeFileSync(join(root, outside, 'modules/6.1.0-test/stale.ko'), 'old\n');
  symlinkSync(outside, join(root, 'lib')); // absolute: <root><outside> for the guest
  const dest = await guestTree(root).copyTree(modules, 'lib/modules/6.1.0-test');
  assert.is(dest, join(root, outside, 'modules/6.1.0-test'));
  assert.equal(readdirSync(dest), ['modules.dep']);
  assert.equal(readdirSync(join(root, outside, 'modules')), ['6.1.0-test']);
  assert.equal(dirSnapshot(outside), before, 'nothing outside changed');
});

test('a write replaces: a link there is replaced, not written through; a hard-linked file keeps its content in the other tree', () => {
  const base = join(scratch, 'replace');
  const other = join(base, 'other-tree');
  const root = join(base, 'root');
  mkdirSync(join(other, 'etc'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(other, 'etc/chrony.conf'), 'pool 2.debian.pool.ntp.org\n', { mode: 0o640 });
  linkSync(join(other, 'etc/chrony.conf'), join(root, 'etc/chrony.conf')); // as a tree cache shares unchanged files
  writeFileSync(join(base, 'host-file'), 'host\n');
  symlinkSync(join(base, 'host-file'), join(root, 'etc/resolv.conf'));
  const tree = guestTree(root);
  const conf = tree.write('etc/chrony.conf', `# ${tree.read('etc/chrony.conf')}`);
  assert.is(readFileSync(join(other, 'etc/chrony.conf'), 'utf8'), 'pool 2.debian.pool.ntp.org\n', 'the other tree\'s file unchanged');
  assert.is(readFileSync(conf, 'utf8'), '# pool 2.debian.pool.ntp.org\n');
  assert.is(statSync(conf).nlink, 1, 'the rootfs file is its own now');
  assert.is(statSync(conf).mode & 0o7777, 0o640, 'the replaced file\'s mode kept');
  tree.write('etc/resolv.conf', '', { mode: 0o644 });
  assert.ok(lstatSync(join(root, 'etc/resolv.conf')).isFile(), 'the link replaced by a file');
  assert.is(readFileSync(join(base, 'host-file'), 'utf8'), 'host\n', 'the link\'s target unchanged');
  tree.symlink('chrony.conf', 'etc/resolv.conf');
  assert.is(readlinkSync(join(root, 'etc/resolv.conf')), 'chrony.conf');
  assert.equal(readdirSync(join(root, 'etc')).sort(), ['chrony.conf', 'resolv.conf'], 'no temp file left');
});

test('a directory cannot be replaced by a file, a link loop is named, `.` and `..` are no entry names', async () => {
  const root = join(scratch, 'odd');
  mkdirSync(join(root, 'etc/fstab'), { recursive: true });
  symlinkSync('b', join(root, 'a'));
  symlinkSync('a', join(root, 'b'));
  const tree = guestTree(root);
  assert.throws(() => tree.write('etc/fstab', ''), isBuildError(/cannot replace \/etc\/fstab .*: it is a directory/));
  assert.throws(() => tree.write('a/x', ''), isBuildError(/too many levels of symlinks at \/(a|b)/));
  for (const rel of ['..', 'etc/..', 'etc/.', '.', '']) {
    await rejects(() => tree.remove(rel), /names no entry of its own/);
    assert.throws(() => tree.write(rel, ''), isBuildError(/names no entry of its own/), rel);
  }
  assert.ok(existsSync(root), 'the root and its parent still there');
});

test.run();
