// tier: unit
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ndFletcher64, OFF_CHECKSUM, PFN_INFO_SIZE, PFN_MODE_RAM, pfnInfoBlock } from '../../lib/image/pfn.ts';

const MiB = 1024 * 1024;

test('checksum bytes of the Kata PFN block (dataoff = align = 2 MiB, minor 2, mode 1)', () => {
  const sb = pfnInfoBlock({ dataoff: 2 * MiB, align: 2 * MiB, mode: PFN_MODE_RAM, versionMinor: 2 });
  assert.is(sb.length, PFN_INFO_SIZE);
  assert.is(sb.subarray(OFF_CHECKSUM).toString('hex'), '303894e32b035b68');
});

test('fields sit where struct nd_pfn_sb puts them', () => {
  const sb = pfnInfoBlock({ dataoff: 2 * MiB, align: 2 * MiB });
  assert.is(sb.toString('latin1', 0, 16), 'NVDIMM_PFN_INFO\0');
  assert.ok(sb.subarray(16, 48).every((b) => b === 0), 'uuid and parent_uuid are zero');
  assert.is(sb.readUInt32LE(48), 0); // flags
  assert.is(sb.readUInt16LE(52), 0); // version_major
  assert.is(sb.readUInt16LE(54), 2); // version_minor
  assert.is(sb.readBigUInt64LE(56), BigInt(2 * MiB)); // dataoff
  assert.is(sb.readBigUInt64LE(64), 0n); // npfns
  assert.is(sb.readUInt32LE(72), 1); // mode
  assert.is(sb.readUInt32LE(84), 2 * MiB); // align
  assert.ok(sb.subarray(88, OFF_CHECKSUM).every((b) => b === 0), 'padding is zero');
});

test('the stored checksum verifies as the kernel checks it (sum with the field zeroed)', () => {
  const sb = pfnInfoBlock({ dataoff: 4 * MiB, align: 2 * MiB });
  const copy = Buffer.from(sb);
  copy.fill(0, OFF_CHECKSUM);
  assert.is(ndFletcher64(copy), sb.readBigUInt64LE(OFF_CHECKSUM));
  assert.is.not(sb.subarray(OFF_CHECKSUM).toString('hex'), '303894e32b035b68', 'a different dataoff changes the sum');
});

test('fletcher64 of known words: lo sums words, hi sums the running lo', () => {
  const buf = Buffer.alloc(12);
  buf.writeUInt32LE(1, 0);
  buf.writeUInt32LE(2, 4);
  buf.writeUInt32LE(3, 8);
  // lo = 6; hi = 1 + 3 + 6 = 10
  assert.is(ndFletcher64(buf), (10n << 32n) | 6n);
});

test.run();
