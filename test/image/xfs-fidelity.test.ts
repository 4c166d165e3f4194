// xfs as faithful as ext4: the hostile tree packed with FS_TYPE=xfs and read
// back through a read-only loop mount compares equal field by field
// (xattrs incl. capabilities/ACLs/SELinux labels, hard links, sockets,
// odd names, times before 1970 and after 2038, sparse files); SOURCE_DATE_EPOCH
// clamps mtimes; what xfs cannot hold (device majors above 511) is refused
// with one ERROR naming the path. The protofile route (no xattrs) keeps hard
// links, sockets and sticky files and stays byte-reproducible.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { runImageTs } from '../helpers/image-fixture.ts';
import { compareSnapshots, makeHostileTree, snapshotTree, TIMES, type Snapshot } from '../helpers/hostile-tree.ts';

const MiB = 1024 * 1024;
const ROOT_OFFSET = 3 * MiB;
const work = mkdtempSync('/var/tmp/osbuilder-xfs-fidelity-');
const tree = join(work, 'tree');
test.after(() => rmSync(work, { recursive: true, force: true }));

/** Snapshot of the image's root filesystem through a read-only loop mount (unmounted again before returning). */
async function readBack(image: string): Promise<Snapshot> {
  const mnt = mkdtempSync(join(work, 'mnt-'));
  await $`mount -o loop,ro,offset=${ROOT_OFFSET} ${image} ${mnt}`;
  try {
    const snap = snapshotTree(mnt);
    // xfs shows a POSIX ACL also under its own trusted.SGI_ACL_* names: the same ACL, not an extra attribute.
    for (const e of snap.values()) for (const n of Object.keys(e.xattrs)) if (n.startsWith('trusted.SGI_ACL_')) delete e.xattrs[n];
    return snap;
  } finally {
    await $`umount ${mnt}`;
    rmSync(mnt, { recursive: true });
  }
}

const skipAdded = (k: string) => k === 'etc/machine-id';

test.before(async () => {
  await makeHostileTree(tree);
});

test('xfs refuses a device number it cannot hold, naming the path and the formats that can', async () => {
  const r = await runImageTs(['-f', 'xfs', '-o', join(work, 'refused.img'), tree], { AGENT_INIT: 'yes' });
  assert.is.not(r.exitCode, 0);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.is(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /special\/(blk|chr)-\d+-\d+ \(device \d+:\d+\) into an xfs image: xfs holds device majors up to 511.*use FS_TYPE=ext4 or erofs/);
  assert.not.match(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  assert.equal((await $`ls -A ${work}`).stdout.split('\n').filter((n) => n.includes('refused')), [], 'nothing half-written');
});

test('xfs holds the hostile tree field by field (loop-mount + copy route); mtimes exact, then clamped', async () => {
  // What xfs cannot hold is refused (above); the rest of the tree must come back whole.
  await $`rm ${join(tree, 'special/chr-4095-5')} ${join(tree, 'special/chr-4095-1048575')} ${join(tree, 'special/blk-259-1048575')}`;
  await $`mknod -m 660 ${join(tree, 'special/blk-511-262143')} b 511 262143`; // the largest xfs holds
  const long = await runImageTs(['-f', 'xfs', '-o', join(work, 'refused.img'), tree], { AGENT_INIT: 'yes' });
  assert.is.not(long.exitCode, 0);
  assert.match(long.stderr, /ERROR: cannot put symlinks\/long/, long.stderr);
  assert.match(long.stderr, /ERROR: cannot put symlinks\/long into an xfs image: its link target is \d+ bytes and xfs holds at most 1023; use FS_TYPE=ext4 or erofs/);
  await $`rm ${join(tree, 'symlinks/long')}`;
  await $`ln -s ${'y'.repeat(1023)} ${join(tree, 'symlinks/long')}`;
  await $`touch -h -d @${TIMES.pre1970} ${join(tree, 'symlinks/long')} ${join(tree, 'symlinks')}`;
  await $`touch -h -d @${TIMES.year2100 + 1} ${join(tree, 'special')}`;
  const expected = snapshotTree(tree);
  const image = join(work, 'hostile.img');
  const r = await runImageTs(['-f', 'xfs', '-o', image, tree], { AGENT_INIT: 'yes' });
  assert.is(r.exitCode, 0, r.stderr);
  const diffs = compareSnapshots(expected, await readBack(image), { skip: skipAdded });
  assert.equal(diffs, []);

  const epoch = 1700000000;
  const r2 = await runImageTs(['-f', 'xfs', '-o', image, tree], { AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: String(epoch) });
  assert.is(r2.exitCode, 0, r2.stderr);
  assert.match(r2.stderr, /WARNING: xfs: .* has extended attributes, so the tree is copied through a loop mount; .* not reproducible/);
  assert.equal(compareSnapshots(expected, await readBack(image), { skip: skipAdded, mtime: { max: epoch } }), []);
  const stillMounted = (await $`grep -c ${work} /proc/mounts || true`).stdout.trim();
  assert.is(stillMounted, '0', 'no mount left behind');
});

test('xfs protofile route: hard links, a socket, a sticky file, post-2038 and pre-1970 mtimes kept; same bytes twice', async () => {
  const root = join(work, 'plain');
  for (const d of ['sbin', 'etc', 'a', 'b', 'many']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'sbin/init'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(root, 'a/one'), 'one');
  linkSync(join(root, 'a/one'), join(root, 'b/two'));
  for (let i = 0; i < 300; i++) writeFileSync(join(root, `many/f${i}`), `${i}`); // a block-form directory
  linkSync(join(root, 'a/one'), join(root, 'many/zz'));
  writeFileSync(join(root, 'etc/sticky'), 's', { mode: 0o644 });
  await $`chmod 1644 ${join(root, 'etc/sticky')}`;
  spawnSocket(join(root, 'etc/sock'));
  for (const [rel, t] of [['a/one', TIMES.year2100], ['etc/sticky', TIMES.pre1970], ['b', TIMES.post2038]] as const) await $`touch -h -d @${t} ${join(root, rel)}`;
  const expected = snapshotTree(root);
  const sums: string[] = [];
  for (const n of [1, 2]) {
    const image = join(work, `plain${n}.img`);
    const r = await runImageTs(['-f', 'xfs', '-o', image, root], { AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: String(TIMES.year2100 + 10) });
    assert.is(r.exitCode, 0, r.stderr);
    assert.not.match(r.stderr, /WARNING/);
    sums.push(createHash('sha256').update(readFileSync(image)).digest('hex'));
    assert.equal(compareSnapshots(expected, await readBack(image), { skip: skipAdded }), []);
  }
  assert.is(sums[0], sums[1], 'byte-reproducible');
});

/** A unix socket node left on disk: a child binds it and exits without unlinking. */
function spawnSocket(path: string): void {
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
  if (r.status !== 0) throw new Error(`cannot make socket ${path}: ${r.stderr}`);
}

test.run();
