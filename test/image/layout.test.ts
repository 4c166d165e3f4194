// tier: unit
// The measured layout as arithmetic, for every image size a build can pick
// up to 2 GiB: upstream main's 99% split, the last partition to the last
// sector, and a hash partition that holds the dm-verity tree of its root
// partition — the count checked against what veritysetup itself writes.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { erofsImageMb } from '../../lib/image/build.ts';
import { DAX_HEADER_MB, fittingImageMb, hashTreeBytes, imageLayout, MiB } from '../../lib/image/layout.ts';
import { requiredDiskMb } from '../../lib/image/size.ts';
import { verityHashBlocks } from '../../lib/image/verity.ts';

const SECTOR = 512;
const MAX_MB = 2048;

test('hash blocks: what veritysetup format --no-superblock writes (sha256, 4096-byte blocks)', async () => {
  const dir = mkdtempSync('/tmp/layout-verity-');
  try {
    // One level, the 128-hash edge of the first and second level, and the 147 MiB root of a 150 MiB image.
    for (const blocks of [1, 128, 129, 16384, 16385, 37632]) {
      const data = join(dir, 'data');
      const hash = join(dir, 'hash');
      rmSync(hash, { force: true });
      await $`truncate -s ${blocks * 4096} ${data}`;
      await $`truncate -s 0 ${hash}`;
      await $`veritysetup format --no-superblock ${data} ${hash}`;
      assert.is(verityHashBlocks(blocks), statSync(hash).size / 4096, `${blocks} data blocks`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const daxHeader of [false, true]) {
  const headerMb = daxHeader ? DAX_HEADER_MB : 0;
  test(`every measured image of 2..${MAX_MB} MiB (${daxHeader ? 'DAX header' : 'SKIP_DAX_HEADER'}): upstream's split where it holds the tree, p2 to the last sector`, () => {
    for (let innerMb = 2; innerMb <= MAX_MB; innerMb++) {
      const asked = innerMb + headerMb;
      const imageMb = fittingImageMb(asked, { daxHeader, measured: true });
      const l = imageLayout({ imageMb, daxHeader, measured: true });
      const inner = imageMb - headerMb;
      const h = Math.floor(Number((inner * 0.99).toPrecision(6))); // upstream: awk '{print $1 * 0.99}' | cut -d. -f1
      assert.is(l.root.offset, (headerMb + 1) * MiB);
      assert.is(l.root.offset + l.root.bytes, (headerMb + h) * MiB, `${asked} MiB: p1 ends at 99%`);
      assert.is(l.hash!.offset, l.root.offset + l.root.bytes);
      assert.is(l.hash!.offset + l.hash!.bytes, l.imageBytes, `${asked} MiB: p2 ends at the last byte`);
      assert.ok(l.hash!.bytes >= verityHashBlocks(l.root.bytes / 4096) * 4096, `${asked} MiB: the hash tree fits`);
      const last = l.mbr1[l.mbr1.length - 1]!;
      assert.is((last.start + last.sectors) * SECTOR, l.imageBytes, `${asked} MiB: MBR #1 to the last sector`);
      if (l.mbr2) {
        const last2 = l.mbr2[l.mbr2.length - 1]!;
        assert.is((last2.start + last2.sectors) * SECTOR + DAX_HEADER_MB * MiB, l.imageBytes, `${asked} MiB: MBR #2 to the last sector`);
      }
      // Upstream's split holds the tree at every size with a root partition (from 3 MiB): same size, same
      // split; a DAX image only takes whole 2 MiB pages.
      const upstream = innerMb >= 3 ? asked : 3 + headerMb;
      assert.is(imageMb, daxHeader ? upstream + (upstream % 2) : upstream, `${asked} MiB`);
    }
  });
}

test('the old 1 MiB tail is gone: 150 MiB measured erofs has a 2 MiB hash partition for its 298 hash blocks', () => {
  const l = imageLayout({ imageMb: 150, daxHeader: false, measured: true });
  assert.is(l.root.bytes, 147 * MiB);
  assert.is(hashTreeBytes(147), 298 * 4096);
  assert.equal(l.hash, { offset: 148 * MiB, bytes: 2 * MiB });
});

test('growth keeps the alignment step when the split cannot hold the tree; DAX images are whole 2 MiB pages', () => {
  assert.is(fittingImageMb(2, { daxHeader: false, measured: true }, 128), 130);
  assert.is(fittingImageMb(4, { daxHeader: true, measured: true }, 2), 6);
  assert.is(fittingImageMb(7, { daxHeader: true, measured: true }), 8);
  assert.is(fittingImageMb(7, { daxHeader: true, measured: false }), 8);
  assert.is(fittingImageMb(7, { daxHeader: false, measured: true }), 7);
  assert.throws(() => imageLayout({ imageMb: 2, daxHeader: false, measured: true }), /too small/);
});

test(`erofs: upstream's size (DAX: whole 2 MiB pages) for every filesystem size up to ${MAX_MB} MiB, and p1 holds the filesystem`, () => {
  for (let fsMb = 0; fsMb <= MAX_MB; fsMb++) {
    for (const fsBytes of [fsMb * MiB, fsMb * MiB + 4096, (fsMb + 1) * MiB - 4096].filter((b) => b > 0)) {
      const upstream = Math.floor((fsBytes + MiB) / MiB) + 2;
      for (const measured of [false, true]) {
        for (const daxHeader of [false, true]) {
          const imageMb = erofsImageMb(fsBytes, { daxHeader, measured });
          const inner = measured ? Math.floor((upstream * 100) / 99) + 1 : upstream;
          const expected = daxHeader ? inner + DAX_HEADER_MB + (inner % 2) : inner;
          assert.is(imageMb, expected, `${fsBytes} bytes measured=${measured} dax=${daxHeader}`);
          const l = imageLayout({ imageMb, daxHeader, measured });
          assert.ok(l.root.bytes >= fsBytes, `${fsBytes} bytes: p1 holds the filesystem`);
        }
      }
    }
  }
});

test('the sizing loop partitions each candidate as the image: measured p1 ends at 99% of it', async () => {
  for (const measured of [false, true]) {
    const seen: number[] = [];
    await requiredDiskMb(190, (bytes) => { seen.push(bytes / MiB); return 0; }, 3, measured);
    assert.equal(seen, measured ? [198 - 1, 207 - 1, 217 - 1] : [199, 209, 219]);
  }
});

test.run();
