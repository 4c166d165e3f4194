// Composable guests end to end: a measured Debian base (AGENT_INIT=no,
// veritysetup, our kata-extension-mount units from the test agent's tarball)
// booted through dm-verity with erofs extension images attached as the
// runtime attaches them. The test agent reports what it finds under
// /run/kata-extensions; every refusal powers the guest off before the agent
// starts and is reported as a FAIL naming the cause. Real TCG boots.
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type BootResult, bootGuest } from '../../lib/boot/boot.ts';
import { diskPartitions, readAt } from '../../lib/boot/partitions.ts';
import { $ } from '../../lib/core/exec.ts';
import { AGENT_MARKER } from '../helpers/agent.ts';
import { cached, hashFiles, hashOf } from '../helpers/cache.ts';
import { repoRoot, runImageTs } from '../helpers/image-fixture.ts';
import { debianRootfs, importClosure } from '../helpers/rootfs-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'extension-mount-'));
test.after(() => rmSync(work, { recursive: true, force: true }));
const TIMEOUT = 240;

interface Built { image: string; hashFile: string }

/** The measured Debian base, built once per tree and image.ts version. */
async function measuredBase(): Promise<Built> {
  const tree = await debianRootfs({ agentInit: 'no', agentTarball: true });
  const key = hashOf(tree, hashFiles(...importClosure('image.ts')));
  const dir = await cached('debian-measured-base', key, async (tmp) => {
    const r = await runImageTs(['-o', join(tmp, 'kata-containers.img'), tree], { AGENT_INIT: 'no', MEASURED_ROOTFS: 'yes', BUILD_VARIANT: 'base' });
    if (r.exitCode !== 0) throw new Error(`image.ts failed:\n${r.stderr}`);
  });
  return { image: join(dir, 'kata-containers.img'), hashFile: join(dir, 'root_hash_base.txt') };
}

/** A tiny erofs extension holding a marker file, built as upstream builds one. */
async function extension(name: string, measured: boolean): Promise<Built> {
  const dir = join(work, name);
  mkdirSync(join(dir, 'tree'), { recursive: true });
  writeFileSync(join(dir, 'tree/marker'), `${name} arrived\n`);
  const image = join(dir, `kata-containers-${name}-extension.img`);
  const r = await runImageTs(['-o', image, join(dir, 'tree')], {
    FS_TYPE: 'erofs', MEASURED_ROOTFS: measured ? 'yes' : 'no', SKIP_DAX_HEADER: 'yes', SKIP_ROOTFS_CHECK: 'yes', BUILD_VARIANT: `${name}-extension`,
  });
  assert.is(r.exitCode, 0, r.stderr);
  return { image, hashFile: join(dir, `root_hash_${name}-extension.txt`) };
}

let base: Built;
let coco: Built;
let dbg: Built;

const tail = (r: BootResult) => r.console.slice(-4000);

/** The mount line comes before the agent's report of the marker, which comes before the agent's marker. */
function assertMounted(r: BootResult, name: string, how: string) {
  const mounted = r.console.indexOf(`kata-extension-mount: extension ${name} mounted at /run/kata-extensions/${name} (${how})`);
  const reported = r.console.indexOf(`KATA-TEST-AGENT-EXTENSION ${name}: ${name} arrived`);
  assert.ok(mounted >= 0, `${name}: no mount line:\n${tail(r)}`);
  assert.ok(reported > mounted, `${name}: the agent did not report the marker after the mount:\n${tail(r)}`);
  assert.ok(r.console.indexOf(AGENT_MARKER) > reported);
}

/** Powered off by the unit before the agent started, with the cause as the failure. */
function assertRefused(r: BootResult, cause: RegExp) {
  assert.not.ok(r.markerSeen, `the agent came up:\n${tail(r)}`);
  assert.not.match(r.console, /KATA-TEST-AGENT-EXTENSION/);
  assert.match(r.failure ?? '', cause, `failure: ${r.failure}; reason: ${r.reason}\n${tail(r)}`);
  assert.not.match(r.reason ?? '', /within \d+ s/);
}

test('a measured Debian base through dm-verity plus one measured extension: mounted verified before the agent, which reports its marker', async () => {
  base = await measuredBase();
  coco = await extension('coco', true);
  const r = await bootGuest({ image: base.image, extensions: [{ name: 'coco', image: coco.image }], timeoutSeconds: TIMEOUT });
  assert.ok(r.markerSeen, tail(r));
  assert.is(r.rootHashFile, base.hashFile);
  assert.match(r.console, /dm-create: dm-verity \(ro\) is ready/);
  assert.ok(r.console.includes(`kata.extension.coco.verity_params=${readFileSync(coco.hashFile, 'utf8').trim()}`));
  assertMounted(r, 'coco', 'verified by dm-verity');
});

test('two extensions at once, one measured and one unmeasured: both mounted', async () => {
  dbg = await extension('dbg', false);
  const r = await bootGuest({ image: base.image, extensions: [{ name: 'coco', image: coco.image }, { name: 'dbg', image: dbg.image }], timeoutSeconds: TIMEOUT });
  assert.ok(r.markerSeen, tail(r));
  assert.match(r.console, / kata\.extension\.dbg\.verity_params( |\n)/);
  assertMounted(r, 'coco', 'verified by dm-verity');
  assertMounted(r, 'dbg', 'unmeasured');
});

test('the base on NVDIMM: the extension is still virtio-blk (vda now), found by its serial', async () => {
  const r = await bootGuest({ image: base.image, media: 'nvdimm', extensions: [{ name: 'coco', image: coco.image }], timeoutSeconds: TIMEOUT });
  assert.ok(r.markerSeen, tail(r));
  assert.match(r.console, /pmem0: p1 p2/);
  assert.match(r.console, /vda: vda1 vda2/);
  assertMounted(r, 'coco', 'verified by dm-verity');
});

test('refused: a bare key for a measured extension (verity stripped)', async () => {
  const r = await bootGuest({ image: base.image, extensions: [{ name: 'coco', image: coco.image, verityParams: '' }], timeoutSeconds: TIMEOUT });
  assertRefused(r, /kata-extension-mount: ERROR: extension coco: \/dev\/vdb has a dm-verity hash partition but the kernel command line gives no verity_params/);
});

test('refused: verity_params for an unmeasured extension', async () => {
  const r = await bootGuest({ image: base.image, extensions: [{ name: 'dbg', image: dbg.image, verityParams: readFileSync(coco.hashFile, 'utf8') }], timeoutSeconds: TIMEOUT });
  assertRefused(r, /kata-extension-mount: ERROR: extension dbg: the kernel command line gives verity_params but \/dev\/vdb has no dm-verity hash partition/);
});

test('refused: a wrong root hash', async () => {
  const line = readFileSync(coco.hashFile, 'utf8').trim().replace(/root_hash=([0-9a-f])/, (_m, c: string) => `root_hash=${c === '0' ? '1' : '0'}`);
  const r = await bootGuest({ image: base.image, extensions: [{ name: 'coco', image: coco.image, verityParams: line }], timeoutSeconds: TIMEOUT });
  assertRefused(r, /device-mapper: verity: [\d:]+: (meta)?data block \d+ is corrupted|kata-extension-mount: ERROR: extension coco: /);
});

test('refused: one flipped data byte in the extension; boot.ts says FAIL with the kernel\'s verity error', async () => {
  const dir = join(work, 'tampered');
  mkdirSync(dir);
  const image = join(dir, 'coco.img');
  copyFileSync(coco.image, image);
  copyFileSync(coco.hashFile, join(dir, 'root_hash_coco-extension.txt'));
  // Byte 0 of the erofs data: before the superblock, unused by the
  // filesystem, so only dm-verity can object to it.
  const p1 = diskPartitions(image).data!;
  const fd = openSync(image, 'r+');
  writeSync(fd, Buffer.from([readAt(image, p1.offset, 1)[0]! ^ 0x01]), 0, 1, p1.offset);
  closeSync(fd);
  const tsx = join(repoRoot, 'node_modules/.bin/tsx');
  const r = await $({ nothrow: true })`${tsx} ${join(repoRoot, 'boot.ts')} -q -t ${TIMEOUT} -e coco=${image} ${base.image}`;
  assert.is(r.exitCode, 1, r.stdout);
  assert.not.match(r.stdout, new RegExp(`^${AGENT_MARKER}`, 'm'));
  assert.match(r.stderr, /^ERROR: FAIL after [\d.]+ s: device-mapper: verity: [\d:]+: data block 0 is corrupted$/m);
});

test('the same base with no extension: the generator enables nothing and the agent comes up', async () => {
  const r = await bootGuest({ image: base.image, timeoutSeconds: TIMEOUT });
  assert.ok(r.markerSeen, tail(r));
  assert.not.match(r.console, /kata-extension-mount|KATA-TEST-AGENT-EXTENSION/);
});

test.run();
