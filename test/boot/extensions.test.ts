// Extension images attached as the runtimes attach guest_extension_images:
// the QEMU arguments and kernel keys (pure), the name and file checks (one
// ERROR each, from boot.ts), and a real TCG boot where the guest kernel sees
// the extension disk after the base disk with its serial.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import {
  MAX_EXTENSION_NAME, checkExtensionName, extensionKernelParams, extensionQemuArgs, parseExtensionOption, resolveExtensions,
} from '../../lib/boot/extensions.ts';
import { $ } from '../../lib/core/exec.ts';
import { AGENT_MARKER, agentInitTree } from '../helpers/agent.ts';
import { repoRoot, runImageTs } from '../helpers/image-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'extensions-'));
test.after(() => rmSync(work, { recursive: true, force: true }));
const tsx = join(repoRoot, 'node_modules/.bin/tsx');

const LINE = 'root_hash=ab12,salt=cd34,data_blocks=8,data_block_size=4096,hash_block_size=4096';

test('QEMU arguments and kernel keys as the Go runtime writes them: read-only virtio-blk, serial extension-<name>, ccw on s390x', () => {
  const exts = [{ name: 'coco', image: '/x/coco,1.img', verityParams: LINE }, { name: 'dbg', image: '/x/dbg.img', verityParams: '' }];
  assert.equal(extensionQemuArgs(exts, 'x86_64'), [
    '-drive', 'id=extension-coco,file=/x/coco,,1.img,aio=threads,format=raw,if=none,readonly=on',
    '-device', 'virtio-blk-pci,disable-modern=false,drive=extension-coco,config-wce=off,share-rw=on,serial=extension-coco',
    '-drive', 'id=extension-dbg,file=/x/dbg.img,aio=threads,format=raw,if=none,readonly=on',
    '-device', 'virtio-blk-pci,disable-modern=false,drive=extension-dbg,config-wce=off,share-rw=on,serial=extension-dbg',
  ]);
  assert.match(extensionQemuArgs(exts, 's390x')[3]!, /^virtio-blk-ccw,drive=extension-coco,/);
  assert.equal(extensionKernelParams(exts), [`kata.extension.coco.verity_params=${LINE}`, 'kata.extension.dbg.verity_params']);
});

test('names as upstream checks them, and short enough for the 20-byte serial', () => {
  for (const ok of ['coco', 'gpu_1', 'A-b', 'x'.repeat(MAX_EXTENSION_NAME)]) checkExtensionName(ok, 'e');
  assert.is(MAX_EXTENSION_NAME, 10);
  assert.throws(() => checkExtensionName('co.co', '-e co.co=x'), /-e co\.co=x: extension name "co\.co" may hold only ASCII letters, digits, '-' and '_'/);
  assert.throws(() => checkExtensionName('a b', 'e'), /may hold only/);
  assert.throws(() => checkExtensionName('x'.repeat(11), 'e'), /is 11 characters: at most 10 fit in the 20-byte virtio-blk serial/);
  assert.throws(() => parseExtensionOption('coco'), /-e coco: give NAME=IMAGE/);
  assert.throws(() => parseExtensionOption('coco='), /no image after "coco="/);
  assert.equal(parseExtensionOption('coco=/a.img,/h.txt'), { name: 'coco', image: '/a.img', rootHashFile: '/h.txt' });
});

/** A tiny extension image built by image.ts the way upstream builds one. */
async function extensionImage(name: string, measured: boolean): Promise<{ image: string; hashFile: string }> {
  const dir = join(work, `ext-${name}`);
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  writeFileSync(join(tree, 'marker'), `${name} content\n`);
  const image = join(dir, `kata-containers-${name}-extension.img`);
  const r = await runImageTs(['-o', image, tree], {
    FS_TYPE: 'erofs', MEASURED_ROOTFS: measured ? 'yes' : 'no', SKIP_DAX_HEADER: 'yes', SKIP_ROOTFS_CHECK: 'yes', BUILD_VARIANT: `${name}-extension`,
  });
  assert.is(r.exitCode, 0, r.stderr);
  return { image, hashFile: join(dir, `root_hash_${name}-extension.txt`) };
}

let measured: { image: string; hashFile: string };
let plain: { image: string; hashFile: string };

test('the kernel key comes from the root hash file beside a measured extension; an unmeasured one gets the bare key', async () => {
  measured = await extensionImage('meas', true);
  plain = await extensionImage('plain', false);
  const [m, p] = resolveExtensions([{ name: 'meas', image: measured.image }, { name: 'plain', image: plain.image }]);
  assert.is(m!.verityParams, readFileSync(measured.hashFile, 'utf8').trim());
  assert.is(m!.rootHashFile, measured.hashFile);
  assert.match(m!.verityParams, /^root_hash=[0-9a-f]{64},salt=[0-9a-f]+,data_blocks=\d+,/);
  assert.is(p!.verityParams, '');
});

test('boot.ts -e refusals: one ERROR naming the extension', async () => {
  const base = join(work, 'base.img');
  const built = await runImageTs(['-o', base, await agentInitTree(join(work, 'init-tree'))], { AGENT_INIT: 'yes' });
  assert.is(built.exitCode, 0, built.stderr);
  const lone = join(work, 'lone');
  mkdirSync(lone);
  copyFileSync(measured.image, join(lone, 'm.img'));
  const cases: [string[], RegExp][] = [
    [['-e', 'co.co=x.img'], /^ERROR: -e co\.co=x\.img: extension name "co\.co" may hold only/],
    [['-e', 'abcdefghijk=x.img'], /^ERROR: -e abcdefghijk=x\.img: extension name "abcdefghijk" is 11 characters/],
    [['-e', `a=${measured.image}`, '-e', `a=${plain.image}`], /^ERROR: extension a: the name is given twice/],
    [['-e', `a=${join(work, 'none.img')}`], /^ERROR: extension a: .*none\.img does not exist/],
    [['-e', `a=${join(lone, 'm.img')}`], /^ERROR: .*m\.img is a measured image .*no root_hash_<variant>\.txt is beside it: give it as -e a=.*m\.img,ROOT_HASH_FILE$/m],
    [['-e', `a=${plain.image},${measured.hashFile}`], /^ERROR: extension a: .*has no dm-verity hash partition \(not built with MEASURED_ROOTFS=yes\): drop the root hash file/],
  ];
  for (const [args, re] of cases) {
    const r = await $({ nothrow: true })`${tsx} ${join(repoRoot, 'boot.ts')} ${args} ${base}`;
    assert.is(r.exitCode, 1, args.join(' '));
    assert.match(r.stderr, re);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('a real boot: the guest kernel finds the extension disks after the base disk, with their serials and keys', async () => {
  const base = join(work, 'base.img');
  const r = await bootGuest({
    image: base, timeoutSeconds: 180,
    extensions: [{ name: 'meas', image: measured.image }, { name: 'plain', image: plain.image }],
  });
  assert.ok(r.markerSeen, `no ${AGENT_MARKER}:\n${r.console.slice(-3000)}`);
  assert.match(r.console, /vda: vda1\n/);
  assert.match(r.console, /vdb: vdb1 vdb2/);
  assert.match(r.console, /vdc: vdc1\n/);
  const line = readFileSync(measured.hashFile, 'utf8').trim();
  assert.ok(r.console.includes(`kata.extension.meas.verity_params=${line} kata.extension.plain.verity_params`), r.console.slice(0, 3000));
});

test.run();
