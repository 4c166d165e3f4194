// tier: unit
// The computed sizing against the real tools: mke2fs's layout for many sizes,
// and upstream's loop arithmetic.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { ext4Geometry, groupHasSuper } from '../../lib/image/ext4-geometry.ts';
import { MiB } from '../../lib/image/layout.ts';
import { ext4AvailableMb, ext4InodeCount, ext4ShortBlocks, fileDataBlocks, fitImageMb, imageMbFor, requiredDiskMb } from '../../lib/image/size.ts';
import { erofsImageMb } from '../../lib/image/build.ts';
import { xfsAvailableFromSb } from '../../lib/image/xfs-size.ts';

test('sparse_super backup groups', () => {
  assert.equal([0, 1, 2, 3, 4, 5, 7, 9, 25, 27, 49, 125].map(groupHasSuper), [true, true, false, true, false, true, true, true, true, true, true, true]);
});

test('ext4 geometry matches mkfs.ext4 (blocks, inodes, free blocks) across sizes and group edge cases', async () => {
  const dir = mkdtempSync('/tmp/ext4-geo-');
  try {
    // Edge cases: a last group too small (dropped, or blocks per group shrunk), size-type boundaries.
    for (const mb of [40, 126, 129, 130, 257, 385, 511, 512, 513, 641, 1025, 1409, 2049, 3201, 5000]) {
      const img = join(dir, 'g.img');
      await $`rm -f ${img}; truncate -s ${mb}M ${img}`;
      await $`mkfs.ext4 -q -F -b 4096 ${img}`;
      const out = (await $`dumpe2fs -h ${img} 2>/dev/null`).stdout;
      const get = (k: string) => Number(out.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))![1]);
      const g = ext4Geometry(mb * MiB, 4096);
      assert.equal({ blocks: g.blocks, inodes: g.inodes, free: g.freeBlocks }, { blocks: get('Block count'), inodes: get('Inode count'), free: get('Free blocks') }, `${mb} MiB`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ext4 geometry with mke2fs -N (many small files) matches mkfs.ext4; the count covers the tree', async () => {
  const dir = mkdtempSync('/tmp/ext4-geo-n-');
  try {
    for (const [mb, n] of [[128, 60000], [384, 250000], [1024, 300000]] as const) {
      const img = join(dir, 'g.img');
      await $`rm -f ${img}; truncate -s ${mb}M ${img}`;
      await $`mkfs.ext4 -q -F -b 4096 -N ${n} ${img}`;
      const out = (await $`dumpe2fs -h ${img} 2>/dev/null`).stdout;
      const get = (k: string) => Number(out.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))![1]);
      const g = ext4Geometry(mb * MiB, 4096, n);
      assert.equal({ inodes: g.inodes, free: g.freeBlocks }, { inodes: get('Inode count'), free: get('Free blocks') }, `${mb} MiB, -N ${n}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const needs = { blocks: 1000, inodes: 50000 };
  const n = ext4InodeCount(needs, 128 * MiB, 4096)!;
  assert.ok(n >= needs.inodes + 11, `-N ${n}`);
  assert.ok(ext4ShortBlocks(needs, 128 * MiB, 4096) <= 0);
  assert.is(ext4InodeCount({ blocks: 1000, inodes: 100 }, 128 * MiB, 4096), undefined, 'the default ratio is enough');
});

test('sizing from allocated blocks: a sparse file counts what the host allocated when the filler keeps holes', async () => {
  const sparse = { size: 10 * 1024 * MiB, allocated: 6 * MiB };
  assert.is(fileDataBlocks(sparse, 4096, true), (6 * MiB) / 4096);
  assert.is(fileDataBlocks(sparse, 4096, false), (10 * 1024 * MiB) / 4096);
  assert.is(fileDataBlocks({ size: 100, allocated: 0 }, 4096, true), 1, 'inline or tail data still takes a block');
  let calls = 0;
  const grown = await fitImageMb(128, 128, 4096, (mb) => { calls++; return mb < 1000 ? ((1000 - mb) * MiB) / 4096 : 0; });
  assert.ok(grown >= 1000 && calls <= 2, `one step: ${grown} MiB after ${calls} checks`);
});

test('upstream loop: first du+10*i whose free space beats du; 20 tries', async () => {
  assert.is(await requiredDiskMb(100, (b) => b / MiB - 25), 130);
  assert.is(await requiredDiskMb(100, () => 0), undefined);
  // A 255 MB rootfs lands in a 384 MiB image, as upstream sizes it.
  const disk = await requiredDiskMb(255, (b) => ext4AvailableMb(b, 4096));
  assert.ok(disk !== undefined && disk > 255);
  assert.is(imageMbFor(disk!, { rootFreeSpaceMb: 0, alignmentMb: 128, daxHeader: true }), 384);
  assert.is(imageMbFor(disk!, { rootFreeSpaceMb: 200, alignmentMb: 128, daxHeader: true }), Math.ceil((disk! + 2 + 200) / 128) * 128);
  assert.is(imageMbFor(disk!, { rootFreeSpaceMb: 0, alignmentMb: 128, daxHeader: false }), Math.ceil(disk! / 128) * 128);
});

test('erofs: upstream size from the built filesystem, measured too', () => {
  // 103 MiB as upstream, then the DAX header's 2 MiB and one more for whole 2 MiB pages.
  assert.is(erofsImageMb(100 * MiB, { daxHeader: true, measured: false }), 106);
  assert.is(erofsImageMb(100 * MiB, { daxHeader: false, measured: true }), 105);
  // A one-file extension: 4 MiB as upstream main makes it (p1 1-3 MiB, p2 3-4 MiB).
  assert.is(erofsImageMb(1000, { daxHeader: false, measured: true }), 4);
});

test('xfs free space: within 1 MiB of df on a mounted fresh xfs (figures measured on this kernel)', () => {
  // [fdblocks, dblocks, agcount, agblocks] from xfs_db, and df -BM avail after mounting.
  const measured: [number, number, number, number, number][] = [
    [80868, 97280, 4, 24320, 297],
    [162788, 179200, 4, 44800, 604],
    [367588, 384000, 4, 96000, 1403],
    [751588, 768000, 4, 192000, 2901],
  ];
  for (const [fdblocks, dblocks, agcount, agblocks, dfMb] of measured) {
    const mb = xfsAvailableFromSb({ fdblocks, dblocks, agcount, agblocks }, 4096);
    assert.ok(Math.abs(mb - dfMb) <= 1, `${dblocks} blocks: ${mb} vs df ${dfMb}`);
  }
});

test.run();
