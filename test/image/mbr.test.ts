// tier: unit
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $, haveCommand } from '../../lib/core/exec.ts';
import { imageLayout, MiB } from '../../lib/image/layout.ts';
import { chsBytes, mbrSector, readMbrPartitions } from '../../lib/image/mbr.ts';

test('a 384 MiB image with the DAX header: p1 from 3 MiB to the last sector (upstream main, rootfs_end=-1s)', () => {
  const l = imageLayout({ imageMb: 384, daxHeader: true, measured: false });
  assert.is(l.imageBytes, 402653184);
  assert.equal(l.mbr1, [{ start: 6144, sectors: 786432 - 6144 }]);
  assert.equal(l.mbr2, [{ start: 2048, sectors: 786432 - 6144 }]);
  assert.is(l.pfnDataOffset, 2 * MiB);
  assert.equal(l.root, { offset: 3 * MiB, bytes: 381 * MiB });
  // MBR #1 and MBR #2 (seen from 2 MiB) name the same bytes.
  assert.is(l.mbr1[0]!.start * 512, 2 * MiB + l.mbr2![0]!.start * 512);
});

test('SKIP_DAX_HEADER: one MBR, partition from 1 MiB to the last sector', () => {
  const l = imageLayout({ imageMb: 128, daxHeader: false, measured: false });
  assert.equal(l.mbr1, [{ start: 2048, sectors: (127 * MiB) / 512 }]);
  assert.is(l.mbr2, undefined);
});

test('MEASURED_ROOTFS: bootable root up to 99%, hash partition after it to the last sector', () => {
  const l = imageLayout({ imageMb: 384, daxHeader: true, measured: true });
  // inner image 382 MiB: hash starts at floor(382 * 0.99) = 378 MiB
  assert.equal(l.mbr2, [{ start: 2048, sectors: 377 * 2048, bootable: true }, { start: 378 * 2048, sectors: 4 * 2048 }]);
  assert.equal(l.mbr1, [{ start: 6144, sectors: 377 * 2048, bootable: true }, { start: 380 * 2048, sectors: 4 * 2048 }]);
  assert.equal(l.hash, { offset: 380 * MiB, bytes: 4 * MiB });
});

test('CHS: parted file geometry (4 heads, 32 sectors), clamped past cylinder 1023', () => {
  assert.equal(chsBytes(2048), [0, 0x01, 0x10]);
  assert.equal(chsBytes(6144), [0, 0x01, 0x30]);
  assert.equal(chsBytes(10_000_000), [3, 0xe0, 0xff]);
});

test('entries round-trip and carry the boot signature', () => {
  const mbr = mbrSector([{ start: 2048, sectors: 100, bootable: true }, { start: 4096, sectors: 50 }], 0x12345678);
  assert.is(mbr.readUInt32LE(440), 0x12345678);
  assert.is(mbr[510], 0x55);
  assert.is(mbr[511], 0xaa);
  assert.equal(readMbrPartitions(mbr), [
    { start: 2048, sectors: 100, type: 0x83, bootable: true },
    { start: 4096, sectors: 50, type: 0x83, bootable: false },
  ]);
  assert.throws(() => mbrSector([{ start: 1, sectors: 1 }, { start: 2, sectors: 1 }, { start: 3, sectors: 1 }, { start: 4, sectors: 1 }, { start: 5, sectors: 1 }], 0));
});

/** The first sector of an image file (not the whole file: they are hundreds of MiB). */
function firstSector(img: string): Buffer {
  const fd = openSync(img, 'r');
  try {
    const sector = Buffer.alloc(512);
    readSync(fd, sector, 0, 512, 0);
    return sector;
  } finally {
    closeSync(fd);
  }
}

test('partition entries are byte-identical to parted mklabel msdos (boot code and disk id aside)', async () => {
  if (!(await haveCommand('parted'))) throw new Error('parted is not installed: run scripts/setup-host.sh');
  const dir = mkdtempSync('/tmp/mbr-test-');
  try {
    // As upstream main's create_disk: p1 from its start to the last sector (-1s).
    for (const [sizeMb, startMb] of [[384, 3], [382, 1], [1024, 1], [64, 1], [4, 1]] as const) {
      const img = join(dir, `p${sizeMb}.img`);
      await $`truncate -s ${sizeMb}M ${img}`;
      await $`parted -s -a optimal ${img} -- mklabel msdos mkpart primary ext4 ${startMb}MiB -1s`;
      const theirs = firstSector(img);
      const ours = mbrSector(imageLayout({ imageMb: sizeMb, daxHeader: startMb === 3, measured: false }).mbr1, theirs.readUInt32LE(440));
      assert.is(ours.subarray(440).toString('hex'), theirs.subarray(440).toString('hex'), `${sizeMb} MiB image`);
    }
    const img = join(dir, 'measured.img');
    await $`truncate -s 384M ${img}`;
    // upstream main: hash_start = int(384 * 0.99) = 380 MiB, p2 to the last sector
    await $`parted -s -a optimal ${img} -- mklabel msdos mkpart primary ext4 1MiB 380MiB mkpart primary ext4 380MiB -1s set 1 boot on`;
    const theirs = firstSector(img);
    const ours = mbrSector(imageLayout({ imageMb: 384, daxHeader: false, measured: true }).mbr1, theirs.readUInt32LE(440));
    assert.is(ours.subarray(440).toString('hex'), theirs.subarray(440).toString('hex'), 'two partitions, boot flag');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
