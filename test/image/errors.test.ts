// Bad input to image.ts: one ERROR line naming the problem, non-zero exit,
// and no image (or temp file) left behind.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { runImageTs, syntheticRootfs } from '../helpers/image-fixture.ts';

let rootfs = '';
let out = '';

test.before(async () => {
  rootfs = await syntheticRootfs();
  out = mkdtempSync('/tmp/image-err-');
});
test.after(() => {
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

async function expectError(args: string[], env: Record<string, string>, pattern: RegExp, dir = out) {
  const r = await runImageTs(args, env);
  assert.is.not(r.exitCode, 0, `exit code for ${args.join(' ')}`);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.is(errors.length, 1, `one ERROR line, got:\n${r.stderr}`);
  assert.match(errors[0]!, pattern);
  if (existsSync(dir)) assert.equal(readdirSync(dir), [], `nothing left in ${dir}`);
}

const img = () => join(out, 'kata.img');

test('missing rootfs directory', () => expectError(['-o', img(), join(out, 'nope')], {}, /nope is not a directory/));

test('no sbin/init', async () => {
  const empty = mkdtempSync('/tmp/image-noinit-');
  try {
    await expectError(['-o', img(), empty], {}, /\/sbin\/init is not installed/);
  } finally {
    rmSync(empty, { recursive: true });
  }
});

test('AGENT_INIT=yes with systemd as /sbin/init', () =>
  expectError(['-o', img(), rootfs], { AGENT_INIT: 'yes' }, /AGENT_INIT=yes but \/sbin\/init .* is systemd/));

test('AGENT_INIT=no without systemd', async () => {
  const tree = await syntheticRootfs();
  try {
    unlinkSync(join(tree, 'usr/lib/systemd/systemd'));
    await expectError(['-o', img(), tree], {}, /none of .*systemd is installed/);
  } finally {
    rmSync(tree, { recursive: true });
  }
});

test('unknown FS_TYPE, by option and by variable', async () => {
  await expectError(['-f', 'btrfs', '-o', img(), rootfs], {}, /-f=btrfs is not valid: use one of ext4, xfs, erofs/);
  await expectError(['-o', img(), rootfs], { FS_TYPE: 'vfat' }, /FS_TYPE=vfat is not valid/);
});

test('bad BLOCK_SIZE', async () => {
  await expectError(['-o', img(), rootfs], { BLOCK_SIZE: '3000' }, /BLOCK_SIZE=3000 is not valid/);
  await expectError(['-f', 'erofs', '-o', img(), rootfs], { BLOCK_SIZE: '1024' }, /BLOCK_SIZE=1024 is not valid for erofs/);
});

test('negative or non-numeric -r', async () => {
  await expectError(['-r', 'lots', '-o', img(), rootfs], {}, /-r=lots is not valid: give the free space in MB/);
  await expectError([`-r=-5`, '-o', img(), rootfs], {}, /-r=-5 is not valid/);
  await expectError(['-o', img(), rootfs], { ROOT_FREE_SPACE: '-1' }, /ROOT_FREE_SPACE=-1 is not valid/);
});

test('output directory missing', () => expectError(['-o', join(out, 'no/such/dir/kata.img'), rootfs], {}, /output directory .*no\/such\/dir does not exist/));

test('output directory read-only (immutable)', async () => {
  const ro = join(out, 'ro');
  mkdirSync(ro);
  await $`chattr +i ${ro}`;
  try {
    await expectError(['-o', join(ro, 'kata.img'), rootfs], {}, /output directory .*ro is not writable/, ro);
  } finally {
    await $`chattr -i ${ro}`;
    rmSync(ro, { recursive: true });
  }
});

test('unknown option', () => expectError(['-z', '-o', img(), rootfs], {}, /unknown option -z/));

test('disk full: small tmpfs as output directory', async () => {
  const small = join(out, 'small');
  mkdirSync(small);
  const tree = await syntheticRootfs();
  writeFileSync(join(tree, 'etc/random'), randomBytes(3 * 1024 * 1024)); // does not fit, compressed or not
  await $`mount -t tmpfs -o size=2M tmpfs ${small}`;
  try {
    for (const fs of ['ext4', 'xfs', 'erofs']) {
      await expectError(['-f', fs, '-o', join(small, 'kata.img'), tree], {}, /No space left|ENOSPC|Could not allocate|command failed|short write/, small);
    }
  } finally {
    await $`umount ${small}`;
    rmSync(small, { recursive: true });
    rmSync(tree, { recursive: true });
  }
});

test('SIGINT during the build: exit 130, no image and no temp files left', async () => {
  const tree = await syntheticRootfs();
  await $`head -c 150M /dev/urandom > ${join(tree, 'etc/payload')}`; // keeps mke2fs busy for a while
  const dir = join(out, 'interrupted');
  mkdirSync(dir);
  try {
    const run = runImageTs(['-o', join(dir, 'kata.img'), tree]);
    const started = Date.now();
    while (!readdirSync(dir).some((f) => f.includes('.tmp-')) && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(readdirSync(dir).length > 0, 'the build started writing');
    // The tsx launcher forwards the signal to the image.ts process.
    run.kill('SIGINT');
    const r = await run;
    assert.is(r.exitCode, 130, r.stderr);
    assert.match(r.stderr, /ERROR: interrupted by SIGINT/);
    assert.equal(readdirSync(dir), []);
  } finally {
    rmSync(tree, { recursive: true });
  }
});

test('rootfs symlink to / is refused', async () => {
  const link = join(out, 'host-root');
  symlinkSync('/', link);
  try {
    const r = await runImageTs(['-o', img(), link]);
    assert.is.not(r.exitCode, 0);
    assert.match(r.stderr, /refusing to pack the host root directory/);
  } finally {
    unlinkSync(link);
  }
});

test.run();
