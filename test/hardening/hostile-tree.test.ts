// The hostile tree fixture holds what it promises, and the field-by-field
// comparison sees every kind of loss (a copy with cp -a compares equal).
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { compareSnapshots, LONG_TARGET, makeHostileTree, NON_UTF8_NAMES, snapshotTree, TIMES } from '../helpers/hostile-tree.ts';

const work = mkdtempSync('/var/tmp/osbuilder-hostile-');
test.after(() => rmSync(work, { recursive: true, force: true }));

test('hostile tree: every hostile feature is present and cp -a compares equal', async () => {
  const root = join(work, 'tree');
  const t = await makeHostileTree(root, { sparseBytes: 8 << 20 });
  const snap = snapshotTree(root);
  const e = (k: string) => snap.get(Buffer.from(k).toString('latin1'))!;
  assert.ok(e('usr/bin/cap-net-raw').xattrs['security.capability'], 'capability');
  assert.ok(e('etc/acl-file').xattrs['system.posix_acl_access'], 'access ACL');
  assert.ok(e('etc/acl-dir').xattrs['system.posix_acl_default'], 'default ACL');
  assert.ok(e('etc/labels/shadow').xattrs['security.selinux'], 'SELinux label');
  assert.is(e('xattrs/dir').xattrs['user.dir'], Buffer.from('on a directory').toString('hex'));
  assert.is(e('xattrs/file').xattrs['user.binary'], '00ff0a0d5c22');
  assert.ok(snap.has(Buffer.concat([Buffer.from('names/'), NON_UTF8_NAMES[0]!]).toString('latin1')), 'non-UTF-8 name');
  assert.ok(snap.has(`names/${'n'.repeat(255)}`) && snap.has('names/new\nline'));
  assert.is(e('links/c/suid').linkGroup, 'links/a/suid');
  assert.is(e('links/b/two').linkGroup, 'links/a/one');
  assert.is(e('links/a/suid').mode, 0o4755);
  assert.is(e('modes/sticky-file').mode, 0o1644);
  assert.is(e('special/socket').type, 's');
  assert.is(e('special/fifo').type, 'p');
  assert.equal([e('special/chr-4095-1048575').major, e('special/chr-4095-1048575').minor], [4095, 1048575]);
  assert.equal([e('owners/huge').uid, e('owners/huge').gid], [4000000000, 4000000001]);
  assert.is(e('owners/link').uid, 70000);
  assert.is(e('times/pre1970').mtime, TIMES.pre1970);
  assert.is(e('times/year2200').mtime, TIMES.year2200);
  assert.is(e('times/pre1970-link').mtime, TIMES.pre1970 - 1);
  assert.is(Buffer.from(e('symlinks/long').target!, 'hex').toString(), LONG_TARGET);
  assert.is(e('sparse/big').size, 8 << 20);
  assert.ok(Number((await $`stat -c %b ${join(root, 'sparse/big')}`).stdout) < 100, 'sparse file is sparse');
  assert.ok(t.xattrPaths.length >= 7 && t.pre1970Paths.length === 3);

  const copy = join(work, 'copy');
  await $`cp -a ${root} ${copy}`;
  assert.equal(compareSnapshots(snap, snapshotTree(copy)), []);

  await $`setfattr -x user.comment ${join(copy, 'xattrs/file')}`;
  await $`touch -h -d @0 ${join(copy, 'symlinks/long')}`;
  await $`chown 1:1 ${join(copy, 'owners/big')}`;
  await $`rm ${join(copy, 'links/b/two')}`;
  await $`cp ${join(copy, 'links/a/one')} ${join(copy, 'links/b/two')}`;
  const diffs = compareSnapshots(snap, snapshotTree(copy), { dirMtimes: false });
  assert.ok(diffs.some((d) => d.startsWith('xattrs/file: xattr user.comment')), diffs.join('\n'));
  assert.ok(diffs.some((d) => d.startsWith('symlinks/long: mtime')), diffs.join('\n'));
  assert.ok(diffs.includes('owners/big: uid 100000 != 1') && diffs.includes('owners/big: gid 200000 != 1'), diffs.join('\n'));
  assert.ok(diffs.some((d) => d.startsWith('links/b/two: hard-linked with links/a/one')), diffs.join('\n'));
  assert.equal(compareSnapshots(snap, snapshotTree(copy), { xattrs: false, mtime: 'ignore', hardlinks: false, skip: (k) => k === 'owners/big' }), []);
});

test.run();
