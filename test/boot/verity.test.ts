// MEASURED_ROOTFS images boot the way the Kata runtime boots them: the
// runtime's dm-mod.create= / root=/dev/dm-0 command line from
// root_hash_<variant>.txt, honoured by the shim (dm-create) since Debian's
// dm is modular. Real image.ts images of a tiny tree whose init is the test
// agent; real TCG boots; a flipped byte is caught by the guest kernel.
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest, fatalConsoleLine as failureReason, mbrPartition } from '../../lib/boot/boot.ts';
import { parseVerityParams, readVerityParams, verityRootParams } from '../../lib/boot/verity.ts';
import { moduleName, shimModulePaths } from '../../lib/boot/shim.ts';
import { debianCloudKernel } from '../../lib/boot/kernel.ts';
import { $ } from '../../lib/core/exec.ts';
import { buildErofsFile } from '../../lib/image/erofs.ts';
import { MiB } from '../../lib/image/layout.ts';
import { walkRootfs } from '../../lib/image/tree.ts';
import { AGENT_MARKER, agentInitTree, testAgentBinary } from '../helpers/agent.ts';
import { repoRoot, runImageTs } from '../helpers/image-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'verity-boot-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

const HASH = 'f211b9f1921ef726d57a72bf82be23a510076639fa8549ade10f85e214e0ddb4';
const SALT = '065c13dfb5b4e0af034685aa5442bddda47b17c182ee44ba55a373835d18a038';
const LINE = `root_hash=${HASH},salt=${SALT},data_blocks=92041,data_block_size=4096,hash_block_size=4096`;

test('kernel parameters from a root hash line, as the runtime builds them from kernel_verity_params', () => {
  const p = parseVerityParams(LINE, 'root_hash_x.txt');
  assert.is(
    verityRootParams(p, 'virtio', 'ext4'),
    `dm-mod.create="dm-verity,,,ro,0 736328 verity 1 /dev/vda1 /dev/vda2 4096 4096 92041 0 sha256 ${HASH} ${SALT}" root=/dev/dm-0 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4`,
  );
  assert.is(
    verityRootParams(p, 'nvdimm', 'erofs'),
    `dm-mod.create="dm-verity,,,ro,0 736328 verity 1 /dev/pmem0p1 /dev/pmem0p2 4096 4096 92041 0 sha256 ${HASH} ${SALT}" root=/dev/dm-0 rootflags=ro rootfstype=erofs`,
  );
});

test('a bad root hash line: one error naming the file and the field', () => {
  assert.throws(() => parseVerityParams(LINE.replace(/salt=\w+,/, ''), 'f.txt'), /f\.txt: no salt=/);
  assert.throws(() => parseVerityParams(LINE.replace('data_blocks=92041', 'data_blocks=x'), 'f.txt'), /f\.txt: data_blocks=x is not a positive/);
  assert.throws(() => parseVerityParams(LINE.replace('data_block_size=4096', 'data_block_size=1000'), 'f.txt'), /multiple of 512/);
  assert.throws(() => parseVerityParams(LINE.replace(HASH, 'zz'), 'f.txt'), /root_hash=zz is not a hex/);
  assert.throws(() => parseVerityParams(`${LINE},mode=initramfs`, 'f.txt'), /only the kernelinit format/);
});

test('the failure reason prefers the verity error to the panic it causes', () => {
  const console = [
    '[    2.1] device-mapper: verity: 254:0: data block 3 is corrupted',
    'switch_root: can\'t execute \'/sbin/init\': Input/output error',
    '[    2.2] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100',
  ].join('\n');
  assert.is(failureReason(console), 'device-mapper: verity: 254:0: data block 3 is corrupted');
  assert.is(failureReason(console.split('\n').slice(1).join('\n')), 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100');
  assert.is(failureReason('all fine\n'), undefined);
});

test('the shim carries dm-verity and what it needs, dependencies first', async () => {
  const names = shimModulePaths((await debianCloudKernel()).modulesDir).map((p) => moduleName(p.split('/').pop()!));
  for (const dep of ['dm_mod', 'dm_bufio']) {
    assert.ok(names.includes(dep) && names.indexOf(dep) < names.indexOf('dm_verity'), `${dep} before dm_verity: ${names}`);
  }
});

/** A measured image (and its root hash file) in its own directory. */
async function measuredImage(name: string, fs: 'ext4' | 'erofs', env: Record<string, string> = {}): Promise<{ image: string; hashFile: string }> {
  const dir = join(work, name);
  mkdirSync(dir);
  const image = join(dir, 'kata-containers.img');
  const r = await runImageTs(['-f', fs, '-o', image, await agentInitTree(join(work, 'tree'))], { AGENT_INIT: 'yes', MEASURED_ROOTFS: 'yes', BUILD_VARIANT: name, ...env });
  assert.is(r.exitCode, 0, r.stderr);
  return { image, hashFile: join(dir, `root_hash_${name}.txt`) };
}

function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, offset);
  closeSync(fd);
  return buf;
}

/** The console must show the runtime's command line, the shim creating dm-0, and the root on it. */
function assertVerityBoot(r: Awaited<ReturnType<typeof bootGuest>>, params: string, what: string) {
  assert.ok(r.markerSeen, `${what}: no ${AGENT_MARKER}:\n${r.console.slice(-3000)}`);
  assert.ok(r.console.includes(params), `${what}: the kernel command line is not the runtime's:\n${r.console.slice(0, 3000)}`);
  assert.match(r.console, /dm-create: dm-verity \(ro\) is ready/);
}

let ext4: { image: string; hashFile: string };

test('ext4 with the DAX header on NVDIMM boots through dm-verity (root hash file found beside the image)', async () => {
  ext4 = await measuredImage('ext4dax', 'ext4');
  const params = verityRootParams(readVerityParams(ext4.hashFile), 'nvdimm', 'ext4');
  const r = await bootGuest({ image: ext4.image, media: 'nvdimm', timeoutSeconds: 180 });
  assert.is(r.rootHashFile, ext4.hashFile);
  assertVerityBoot(r, params, 'ext4 nvdimm');
  assert.match(r.console, /pmem0: p1 p2/);
  assert.match(r.console, /EXT4-fs \(dm-0\): mounted/);
});

test('the same ext4 image on virtio-blk boots through dm-verity over vda1/vda2', async () => {
  const params = verityRootParams(readVerityParams(ext4.hashFile), 'virtio', 'ext4');
  const r = await bootGuest({ image: ext4.image, media: 'virtio', rootHashFile: ext4.hashFile, timeoutSeconds: 180 });
  assertVerityBoot(r, params, 'ext4 virtio');
  assert.match(r.console, /vda: vda1 vda2/);
  assert.match(r.console, /EXT4-fs \(dm-0\): mounted/);
});

test('erofs with SKIP_DAX_HEADER=yes (the extension layout) on virtio-blk boots through dm-verity', async () => {
  const erofs = await measuredImage('erofs-extension', 'erofs', { SKIP_DAX_HEADER: 'yes' });
  const params = verityRootParams(readVerityParams(erofs.hashFile), 'virtio', 'erofs');
  const r = await bootGuest({ image: erofs.image, media: 'virtio', timeoutSeconds: 180 });
  assertVerityBoot(r, params, 'erofs virtio');
  assert.match(r.console, /erofs.*dm-0|dm-0.*erofs/i);
});

test('erofs with the DAX header on NVDIMM: an odd upstream size takes whole 2 MiB pages, and boots through dm-verity', async () => {
  // A guest kernel refuses a PFN namespace whose end is not 2 MiB-aligned
  // ("resource end misaligned"): pad the tree with one-block files (stored as
  // they are) until upstream's size for it, N*100/99 + 1 + 2, is odd.
  const tree = await agentInitTree(join(work, 'padded'));
  const scratch = mkdtempSync(join(work, 'erofs-'));
  let upstreamMb = 0;
  for (let pads = 0; pads < 1024; pads += 64) {
    for (let i = pads - 64; i >= 0 && i < pads; i++) writeFileSync(join(tree, `pad${i}`), randomBytes(4096));
    await buildErofsFile(walkRootfs(tree), join(scratch, 'fs.img'), scratch);
    const n0 = Math.floor((statSync(join(scratch, 'fs.img')).size + MiB) / MiB) + 2;
    upstreamMb = Math.floor((n0 * 100) / 99) + 1 + 2;
    if (upstreamMb % 2) break;
  }
  assert.is(upstreamMb % 2, 1, 'a tree whose upstream size is odd');
  const dir = join(work, 'erofsdax');
  mkdirSync(dir);
  const image = join(dir, 'kata-containers.img');
  const built = await runImageTs(['-f', 'erofs', '-o', image, tree], { AGENT_INIT: 'yes', MEASURED_ROOTFS: 'yes', BUILD_VARIANT: 'erofsdax' });
  assert.is(built.exitCode, 0, built.stderr);
  assert.is(statSync(image).size, (upstreamMb + 1) * MiB);
  const p2 = mbrPartition(readAt(image, 0, 512), 2)!;
  assert.is(p2.offset + p2.bytes, statSync(image).size, 'p2 ends at the last sector');
  const hashFile = join(dir, 'root_hash_erofsdax.txt');
  const params = verityRootParams(readVerityParams(hashFile), 'nvdimm', 'erofs');
  const r = await bootGuest({ image, media: 'nvdimm', timeoutSeconds: 180 });
  assertVerityBoot(r, params, 'erofs nvdimm');
  assert.match(r.console, /pmem0: p1 p2/);
});

test('one flipped byte of the agent\'s data: the guest kernel rejects it, boot.ts reports FAIL with the verity error', async () => {
  const dir = join(work, 'tampered');
  mkdirSync(dir);
  const image = join(dir, 'kata-containers.img');
  copyFileSync(ext4.image, image);
  copyFileSync(ext4.hashFile, join(dir, 'root_hash_ext4dax.txt'));
  // The agent's first block, found in p1; byte 10 is ELF padding the kernel
  // ignores, so only verification can object to the change.
  const agentHead = readFileSync(await testAgentBinary()).subarray(0, 4096);
  const p1 = mbrPartition(readAt(image, 0, 512), 1)!;
  const at = readAt(image, p1.offset, p1.bytes).indexOf(agentHead);
  assert.ok(at >= 0 && at % 4096 === 0, 'the agent\'s first block is in p1');
  const fd = openSync(image, 'r+');
  writeSync(fd, Buffer.from([agentHead[10]! ^ 0x01]), 0, 1, p1.offset + at + 10);
  closeSync(fd);

  const start = Date.now();
  const r = await $({ nothrow: true })`${join(repoRoot, 'node_modules/.bin/tsx')} ${join(repoRoot, 'boot.ts')} -m nvdimm -t 180 ${image}`;
  const seconds = (Date.now() - start) / 1000;
  assert.is.not(r.exitCode, 0);
  assert.match(r.stdout, /device-mapper: verity: [\d:]+: data block \d+ is corrupted/);
  assert.match(r.stderr, /^ERROR: FAIL after [\d.]+ s: device-mapper: verity: [\d:]+: data block \d+ is corrupted$/m);
  assert.not.match(r.stderr, /within 180 s/);
  assert.ok(seconds < 120, `reported after ${seconds} s, not at the timeout`);
});

test('a table the guest kernel refuses (hash_block_size=1536): FAIL with dm-create\'s error, not a timeout', async () => {
  const dir = join(work, 'bad-table');
  mkdirSync(dir);
  const hashFile = join(dir, 'root_hash_bad.txt');
  writeFileSync(hashFile, readFileSync(ext4.hashFile, 'utf8').replace('hash_block_size=4096', 'hash_block_size=1536'));
  const r = await $({ nothrow: true })`${join(repoRoot, 'node_modules/.bin/tsx')} ${join(repoRoot, 'boot.ts')} -v ${hashFile} -t 180 ${ext4.image}`;
  assert.is(r.exitCode, 1);
  assert.match(r.stdout, /device-mapper: [^\n]*verity: Invalid hash device block size/);
  assert.match(r.stderr, /^ERROR: FAIL after [\d.]+ s: dm-create: error: DM_TABLE_LOAD failed .*: Invalid argument$/m);
});

test('boot.ts: a measured image without its root hash file, and a root hash file for a plain image, are refused', async () => {
  const tsx = join(repoRoot, 'node_modules/.bin/tsx');
  const lone = join(work, 'lone');
  mkdirSync(lone);
  copyFileSync(ext4.image, join(lone, 'kata-containers.img'));
  let r = await $({ nothrow: true })`${tsx} ${join(repoRoot, 'boot.ts')} ${join(lone, 'kata-containers.img')}`;
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /^ERROR: .*measured image .*no root_hash_<variant>\.txt is beside it: give one with -v FILE$/m);
  writeFileSync(join(lone, 'root_hash_other.txt'), LINE + '\n');
  r = await $({ nothrow: true })`${tsx} ${join(repoRoot, 'boot.ts')} ${join(lone, 'kata-containers.img')}`;
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /none of root_hash_other\.txt fits its \d+-byte root partition: name its root hash file with -v FILE/);
  r = await $({ nothrow: true })`${tsx} ${join(repoRoot, 'boot.ts')} -v ${join(lone, 'root_hash_other.txt')} ${join(lone, 'kata-containers.img')}`;
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /root_hash_other\.txt covers 376999936 bytes but the root partition/);

  const plainDir = join(work, 'plain');
  mkdirSync(plainDir);
  const plain = join(plainDir, 'plain.img');
  const built = await runImageTs(['-o', plain, await agentInitTree(join(work, 'tree'))], { AGENT_INIT: 'yes' });
  assert.is(built.exitCode, 0, built.stderr);
  r = await $({ nothrow: true })`${tsx} ${join(repoRoot, 'boot.ts')} -v ${ext4.hashFile} ${plain}`;
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /^ERROR: .*plain\.img has no dm-verity hash partition \(not built with MEASURED_ROOTFS=yes\): drop the root hash file/m);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);

  const initrd = join(work, 'fake-initrd.img');
  writeFileSync(initrd, Buffer.from([0x1f, 0x8b, 8, 0]));
  r = await $({ nothrow: true })`${tsx} ${join(repoRoot, 'boot.ts')} -v ${ext4.hashFile} ${initrd}`;
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /^ERROR: .*fake-initrd\.img is an initrd: a root hash file \(-v\) belongs to a MEASURED_ROOTFS disk image$/m);
});

test.run();
