// Hardening of real runs: two image builds at once, a full disk under
// initrd.ts, SIGINT while initrd.ts writes, and temp files of dead runs swept.
// Each check also looks at the host: no mount, no loop device left.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { MiB } from '../../lib/image/layout.ts';
import { expectedListing, ext4Listing, listingDiff } from '../helpers/image-readback.ts';
import { repoRoot, runImageTs, syntheticRootfs } from '../helpers/image-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-hardening-runs-');
let tree = '';

// Only what points into our scratch tree: other builds on the host may mount and loop meanwhile.
const ours = (text: string) => text.split('\n').filter((l) => l.includes(work));
const mounts = () => ours(readFileSync('/proc/self/mounts', 'utf8'));
const loops = async () => ours((await $`losetup -a`).stdout);

test.before(async () => {
  tree = await syntheticRootfs(work);
});
test.after(() => rmSync(work, { recursive: true, force: true }));

async function assertHostClean(): Promise<void> {
  assert.equal(mounts(), [], 'no mount left in the scratch tree');
  assert.equal(await loops(), [], 'no loop device on a scratch file');
}

/** A PID that no process has: a child that already exited. */
async function deadPid(): Promise<number> {
  const p = $`true`;
  await p;
  return p.child!.pid!;
}

function runInitrd(args: string[], env: Record<string, string> = {}) {
  return $({ nothrow: true, cwd: repoRoot, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root', ...env } })`${join(repoRoot, 'node_modules/.bin/tsx')} ${join(repoRoot, 'initrd.ts')} ${args}`;
}

/** A copy of the synthetic tree plus etc/payload of `mib` random MiB. */
async function treeWithPayload(prefix: string, mib: number): Promise<string> {
  const dir = mkdtempSync(join(work, prefix));
  await $`cp -a ${tree}/. ${dir}/`;
  await $`head -c ${mib}M /dev/urandom > ${join(dir, 'etc/payload')}`;
  return dir;
}

test('two image builds at once into one directory: both valid; temp files of a dead run are swept', async () => {
  const out = join(work, 'out');
  mkdirSync(out);
  const dead = await deadPid();
  // What a SIGKILLed build leaves: a temp image and a scratch dir under its PID.
  writeFileSync(join(out, `.a.img.tmp-${dead}`), 'half');
  mkdirSync(join(out, `.a.img.build-${dead}-Xy12ab`));
  writeFileSync(join(out, `.a.img.build-${dead}-Xy12ab/ext4.img`), 'half');
  const [a, b] = await Promise.all([runImageTs(['-o', join(out, 'a.img'), tree]), runImageTs(['-o', join(out, 'b.img'), tree])]);
  assert.is(a.exitCode, 0, a.stderr);
  assert.is(b.exitCode, 0, b.stderr);
  assert.equal(readdirSync(out).sort(), ['a.img', 'a.img.cdx.json', 'b.img', 'b.img.cdx.json'], 'only the two images and their SBOMs: no temp file of either run, stale ones swept');
  const expected = await expectedListing(tree);
  for (const img of ['a.img', 'b.img']) {
    assert.equal(listingDiff(expected, await ext4Listing(join(out, img), 3 * MiB)), [], `${img} holds the tree`);
  }
  await assertHostClean();
});

test('disk full under initrd.ts (uncompressed, gzip, zstd): one ERROR line, nothing left on the small disk', async () => {
  const small = join(work, 'small');
  mkdirSync(small);
  const big = await treeWithPayload('big-', 3); // random: no compressor shrinks it below 2 MiB
  await $`mount -t tmpfs -o size=2M tmpfs ${small}`;
  try {
    for (const compression of ['none', 'gzip', 'zstd']) {
      const r = await runInitrd(['-o', join(small, 'initrd.img'), big], { INITRD_COMPRESSION: compression, AGENT_INIT: 'yes' });
      assert.is(r.exitCode, 1, `${compression}: ${r.stderr}`);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
      assert.is(errors.length, 1, r.stderr);
      assert.match(errors[0]!, /ENOSPC|No space left on device/);
      assert.equal(readdirSync(small), [], `${compression}: no partial initrd`);
    }
  } finally {
    await $`umount ${small}`;
  }
  await assertHostClean();
});

test('SIGINT while initrd.ts writes: exit 130, no initrd and no temp file; the next run works', async () => {
  const dir = join(work, 'interrupted');
  mkdirSync(dir);
  const big = await treeWithPayload('slow-', 200); // keeps gzip busy for a while
  const out = join(dir, 'initrd.img');
  const run = runInitrd(['-o', out, big], { AGENT_INIT: 'yes', INITRD_COMPRESSION: 'gzip' });
  const started = Date.now();
  while (!readdirSync(dir).some((f) => f.includes('.tmp-')) && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(readdirSync(dir).length > 0, 'the write started');
  run.kill('SIGINT'); // the tsx launcher relays it to initrd.ts
  const r = await run;
  assert.is(r.exitCode, 130, r.stderr);
  assert.match(r.stderr, /ERROR: interrupted by SIGINT/);
  assert.equal(readdirSync(dir), [], 'no output that looks complete, no temp file');
  await assertHostClean();
  rmSync(join(big, 'etc/payload'));
  const again = await runInitrd(['-o', out, big], { AGENT_INIT: 'yes' });
  assert.is(again.exitCode, 0, again.stderr);
  assert.equal(readdirSync(dir).sort(), ['initrd.img', 'initrd.img.cdx.json']);
  assert.ok(existsSync(out));
});

test('rootfs.ts sweeps the staging dir of a dead build, keeps that of a live one', async () => {
  const parent = mkdtempSync(join(work, 'rootfs-parent-'));
  const dead = join(parent, `.r.partial-${await deadPid()}`);
  const live = join(parent, `.r.partial-${process.pid}`); // this test process: alive
  for (const d of [dead, live]) mkdirSync(join(d, 'etc'), { recursive: true });
  // A build that fails fast (no package manager) after the sweep.
  const r = await $({ nothrow: true, cwd: repoRoot, env: { PATH: process.env.PATH!, HOME: '/root', AGENT_SOURCE_BIN: '/bin/true', PKG_MANAGER: 'false', REPO_URL: 'file:///nonexistent' } })`${join(repoRoot, 'node_modules/.bin/tsx')} ${join(repoRoot, 'rootfs.ts')} -r ${join(parent, 'r')} fedora`;
  assert.is.not(r.exitCode, 0);
  assert.match(r.stdout + r.stderr, /removed .*which no longer runs/);
  assert.equal(readdirSync(parent), [`.r.partial-${process.pid}`], 'the dead one and the failed build are gone; the live one stays');
  await assertHostClean();
});

test.run();
