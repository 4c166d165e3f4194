// Nothing lost (README "Every path, every field"): the hostile tree packed as
// ext4 and erofs, read back by the kernel's own filesystem (mount -o ro,loop)
// and compared field by field; what erofs cannot hold is refused before any
// work; the rootfs is only read (no ctime or link-count change, no sibling).
// The output directory has a space in its name (debugfs writes machine-id there).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { compareSnapshots, makeHostileTree, ODD_NAMES, snapshotTree, type Snapshot, inodeStamps } from '../helpers/hostile-tree.ts';
import { runImageTs } from '../helpers/image-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-fidelity-');
const out = join(work, 'out dir');
const root = join(work, 'rootfs');
const mnt = join(work, 'mnt');
let tree: Snapshot;

test.before(async () => {
  mkdirSync(out);
  mkdirSync(mnt);
  await makeHostileTree(root, { sparseBytes: 32 << 20 });
  tree = snapshotTree(root);
});
test.after(async () => {
  await $({ nothrow: true })`umount ${mnt}`;
  rmSync(work, { recursive: true, force: true });
});

/** The image's root filesystem, mounted read-only by the kernel, snapshotted. */
async function readBack(image: string): Promise<Snapshot> {
  await $`mount -o ro,loop,offset=${3 << 20} ${image} ${mnt}`; // partition 1 at 3 MiB (DAX header layout)
  try {
    return snapshotTree(mnt);
  } finally {
    await $`umount ${mnt}`;
  }
}

const added = (k: string) => k === 'etc/machine-id' || k === 'lost+found';

test('ext4 holds the hostile tree: every path, every field, xattrs, links, devices, times', async () => {
  const before = inodeStamps(root);
  const image = join(out, 'ext4 image.img');
  const r = await runImageTs(['-o', image, root], { AGENT_INIT: 'yes' });
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal(compareSnapshots(tree, await readBack(image), { skip: added }), []);
  assert.is(inodeStamps(root), before, 'the rootfs is only read');
  assert.equal(readdirSync(out), ['ext4 image.img', 'ext4 image.img.cdx.json']);
  assert.equal(readdirSync(work).sort(), ['mnt', 'out dir', 'rootfs']);
});

test('erofs refuses a name it cannot hold, naming the path and the format that can, before any work', async () => {
  const image = join(out, 'erofs.img');
  const r = await runImageTs(['-f', 'erofs', '-o', image, root], { AGENT_INIT: 'yes' });
  assert.is.not(r.exitCode, 0);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.is(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /ERROR: \/names\/n+\.\.\.n+ \(261 bytes\) has a 255-byte name: .*FS_TYPE=ext4/);
  assert.not.match(r.stderr, /Creating the erofs filesystem/);
  assert.not.ok(existsSync(image));
  assert.equal(readdirSync(out).filter((n) => n.includes('erofs')), []);
});

test('erofs holds the hostile tree (less the 255-byte name) and only reads the rootfs', async () => {
  const long = ODD_NAMES.find((n) => n.length === 255)!;
  unlinkSync(join(root, 'names', long));
  // What an older version's killed erofs build left beside the rootfs: swept.
  const dead = $`true`;
  await dead;
  const legacy = join(dirname(root), `.${basename(root)}.image-stage-${dead.child!.pid}`);
  mkdirSync(join(legacy, 'etc'), { recursive: true });
  writeFileSync(join(legacy, 'etc/hostname'), 'stale\n');
  const expected = snapshotTree(root);
  const before = inodeStamps(root);
  const image = join(out, 'erofs.img');
  const r = await runImageTs(['-f', 'erofs', '-o', image, root], { AGENT_INIT: 'yes' });
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal(compareSnapshots(expected, await readBack(image), { skip: added }), []);
  assert.is(inodeStamps(root), before, 'no hard link into the rootfs, no ctime change');
  assert.equal(readdirSync(dirname(root)).filter((n) => n.startsWith(`.${basename(root)}`)), [], 'no sibling stage; the stale one swept');
  assert.equal(readdirSync(out).sort(), ['erofs.img', 'erofs.img.cdx.json', 'ext4 image.img', 'ext4 image.img.cdx.json']);

  // SOURCE_DATE_EPOCH clamps mtimes to it (README), it does not set them all;
  // mkfs.erofs 1.5 would turn one before 1970 into the epoch: refused by name.
  const epoch = 2000000000;
  const refused = await runImageTs(['-f', 'erofs', '-o', join(out, 'e2.img'), root], { AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: String(epoch) });
  assert.is.not(refused.exitCode, 0);
  assert.equal(refused.stderr.split('\n').filter((l) => l.startsWith('ERROR:')), [
    'ERROR: /times/pre1970 has an mtime before 1970 (-100000000), which mkfs.erofs here turns into SOURCE_DATE_EPOCH: use FS_TYPE=ext4, or build erofs without SOURCE_DATE_EPOCH',
  ]);
  for (const rel of ['times/pre1970', 'times/pre1970-dir', 'times/pre1970-link']) await $`touch -h -d @0 ${join(root, rel)}`;
  const rr = await runImageTs(['-f', 'erofs', '-o', image, root], { AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: String(epoch) });
  assert.is(rr.exitCode, 0, rr.stderr);
  assert.equal(compareSnapshots(snapshotTree(root), await readBack(image), { skip: added, mtime: { max: epoch } }), []);
  assert.equal(readdirSync(out).sort(), ['erofs.img', 'erofs.img.cdx.json', 'ext4 image.img', 'ext4 image.img.cdx.json']);
});

test.run();
