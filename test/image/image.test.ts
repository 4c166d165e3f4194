// image.ts end to end on a synthetic tree: for ext4, xfs and erofs the image
// has the upstream layout, the filesystem checker is clean, and every path of
// the rootfs is in the image with the same type, mode, owner and size (plus
// machine-id; no unit is pruned here); the rootfs directory is left as it was.
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { readMbrPartitions } from '../../lib/image/mbr.ts';
import { erofsListing, expectedListing, ext4Listing, listingDiff, xfsListing } from '../helpers/image-readback.ts';
import { runImageTs, syntheticRootfs, treeFingerprint } from '../helpers/image-fixture.ts';

const MiB = 1024 * 1024;
let rootfs = '';
let out = '';
let before = '';

test.before(async () => {
  rootfs = await syntheticRootfs();
  out = mkdtempSync('/tmp/image-out-');
  before = await treeFingerprint(rootfs);
});
test.after(() => {
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** The root partition as its own file (for the checkers that need one). */
async function extractPartition(image: string, startSector: number, sectors: number, to: string): Promise<string> {
  await $`dd if=${image} of=${to} bs=512 skip=${startSector} count=${sectors} conv=sparse status=none`;
  return to;
}

for (const fs of ['ext4', 'xfs', 'erofs'] as const) {
  test(`${fs}: DAX layout, clean fsck, same tree`, async () => {
    const image = join(out, `${fs}.img`);
    const r = await runImageTs(['-f', fs, '-o', image, rootfs]);
    assert.is(r.exitCode, 0, r.stderr);
    const size = readFileSync(image).length;
    if (fs !== 'erofs') assert.is(size % (128 * MiB), 0, 'size aligned to IMAGE_SIZE_ALIGNMENT_MB');
    const mbr1 = readMbrPartitions(readAt(image, 0, 512));
    const mbr2 = readMbrPartitions(readAt(image, 2 * MiB, 512));
    assert.is(mbr1.length, 1);
    assert.is(mbr1[0]!.start, 6144, 'MBR #1 partition at 3 MiB');
    assert.is(mbr2[0]!.start, 2048, 'MBR #2 partition 1 MiB after it');
    assert.is(mbr1[0]!.sectors, mbr2[0]!.sectors);
    assert.is((mbr1[0]!.start + mbr1[0]!.sectors) * 512, size, 'p1 ends at the last sector');
    assert.is(readAt(image, 4096, 16).toString('latin1'), 'NVDIMM_PFN_INFO\0');
    const part = await extractPartition(image, mbr1[0]!.start, mbr1[0]!.sectors, join(out, `${fs}.part`));
    const expected = await expectedListing(rootfs);
    let actual;
    if (fs === 'ext4') {
      const fsck = await $({ nothrow: true })`e2fsck -fn ${part}`;
      assert.is(fsck.exitCode, 0, fsck.stdout);
      actual = await ext4Listing(image, 3 * MiB);
    } else if (fs === 'xfs') {
      const fsck = await $({ nothrow: true })`xfs_repair -n -f ${part}`;
      assert.is(fsck.exitCode, 0, fsck.stderr);
      actual = await xfsListing(part);
    } else {
      const fsck = await $({ nothrow: true })`fsck.erofs ${part}`;
      assert.is(fsck.exitCode, 0, fsck.stderr);
      const special = [...expected].filter(([, m]) => Number.parseInt(m.perm, 8) & 0o7000).map(([rel]) => rel);
      actual = await erofsListing(part, special);
    }
    assert.equal(listingDiff(expected, actual, { targets: fs === 'erofs' }), []);
    assert.ok(actual.has('etc/machine-id'));
    assert.ok(actual.has('usr/lib/systemd/system/systemd-journald.service'), 'units are pruned by rootfs.ts -d, not by image.ts (upstream a49d0fb343)');
    rmSync(part);
    assert.is(await treeFingerprint(rootfs), before, 'the rootfs directory is unchanged');
  });
}

test('a rootfs given through a symlink is the tree it points to (same image bytes)', async () => {
  const link = join(out, 'rootfs-link');
  await $`ln -s ${rootfs} ${link}`;
  const env = { SOURCE_DATE_EPOCH: '1700000000' };
  assert.is((await runImageTs(['-o', join(out, 'direct.img'), rootfs], env)).exitCode, 0);
  assert.is((await runImageTs(['-o', join(out, 'linked.img'), link], env)).exitCode, 0);
  assert.ok(readFileSync(join(out, 'direct.img')).equals(readFileSync(join(out, 'linked.img'))));
});

test('SKIP_DAX_HEADER=yes: single MBR, partition at 1 MiB, no PFN block', async () => {
  const image = join(out, 'nodax.img');
  const r = await runImageTs(['-o', image, rootfs], { SKIP_DAX_HEADER: 'yes' });
  assert.is(r.exitCode, 0, r.stderr);
  const mbr = readMbrPartitions(readAt(image, 0, 512));
  assert.equal(mbr.map((p) => p.start), [2048]);
  assert.ok(readAt(image, 4096, 16).every((b) => b === 0));
  assert.is(readMbrPartitions(readAt(image, 2 * MiB, 512)).length, 0);
});

test('-r and ROOT_FREE_SPACE add free space, rounded up to the alignment', async () => {
  const small = join(out, 'r0.img');
  const big = join(out, 'r200.img');
  const env = join(out, 'r300.img');
  assert.is((await runImageTs(['-o', small, rootfs])).exitCode, 0);
  assert.is((await runImageTs(['-r', '200', '-o', big, rootfs])).exitCode, 0);
  assert.is((await runImageTs(['-o', env, rootfs], { ROOT_FREE_SPACE: '300' })).exitCode, 0);
  // The tiny tree needs ~14 MiB: 128 MiB without, 256 with 200 MB, 384 with 300 MB.
  assert.equal([small, big, env].map((f) => readFileSync(f).length / MiB), [128, 256, 384]);
});

/** Invert one byte of a file in place. */
function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

test('MEASURED_ROOTFS=yes: veritysetup verify passes with the written parameters', async () => {
  for (const fs of ['ext4', 'erofs'] as const) {
    const dir = mkdtempSync(join(out, 'measured-'));
    const image = join(dir, 'kata.img');
    const r = await runImageTs(['-f', fs, '-o', image, rootfs], { MEASURED_ROOTFS: 'yes', BUILD_VARIANT: 'test' });
    assert.is(r.exitCode, 0, r.stderr);
    const params = Object.fromEntries(readFileSync(join(dir, 'root_hash_test.txt'), 'utf8').trim().split(',').map((kv) => kv.split('=') as [string, string]));
    const parts = readMbrPartitions(readAt(image, 0, 512));
    assert.is(parts.length, 2);
    assert.ok(parts[0]!.bootable);
    const p1 = await extractPartition(image, parts[0]!.start, parts[0]!.sectors, join(dir, 'p1'));
    const p2 = await extractPartition(image, parts[1]!.start, parts[1]!.sectors, join(dir, 'p2'));
    assert.is(Number(params.data_blocks) * 4096, parts[0]!.sectors * 512);
    const v = await $({ nothrow: true })`veritysetup verify --no-superblock --salt=${params.salt!} --data-blocks=${params.data_blocks!} --data-block-size=${params.data_block_size!} --hash-block-size=${params.hash_block_size!} ${p1} ${p2} ${params.root_hash!}`;
    assert.is(v.exitCode, 0, v.stderr);
    // A flipped data byte must fail verification (mid-partition: an erofs p1 may be only a few MiB).
    flipByte(p1, Math.floor((parts[0]!.sectors * 512) / 2));
    const bad = await $({ nothrow: true })`veritysetup verify --no-superblock --salt=${params.salt!} --data-blocks=${params.data_blocks!} ${p1} ${p2} ${params.root_hash!}`;
    assert.is.not(bad.exitCode, 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
