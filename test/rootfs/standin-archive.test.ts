// tier: unit
// The stand-in archive's pure parts: its Release text, the server's path
// mapping, its package list, and APT_KEYRING on both bootstrap tools' lines.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootstrapArgs } from '../../lib/rootfs/debootstrap.ts';
import { DEVKIT_PACKAGES, releaseText, standinPackages, UNIVERSE } from '../../scripts/standin/archive.ts';
import { fileOf } from '../../scripts/standin/serve.ts';

test('Release: suite and codename resolute, main and universe, amd64, each index with its size and sha256', () => {
  const content = Buffer.from('Package: a\n');
  const text = releaseText([{ path: 'main/binary-amd64/Packages', content }], new Date(0));
  for (const line of ['Suite: resolute', 'Codename: resolute', 'Components: main universe', 'Architectures: amd64', 'Date: Thu, 01 Jan 1970 00:00:00 GMT']) {
    assert.ok(text.split('\n').includes(line), line);
  }
  const sha = createHash('sha256').update(content).digest('hex');
  assert.ok(text.includes(`SHA256:\n ${sha}       11 main/binary-amd64/Packages\n`), text);
});

test('the package list: the guest list with init and libseccomp2, the devkit list, the build image; universe names in it', () => {
  const list = standinPackages();
  for (const p of ['init', 'libseccomp2', 'cryptsetup-bin', 'mmdebstrap', 'nodejs', ...DEVKIT_PACKAGES]) assert.ok(list.includes(p), p);
  for (const p of UNIVERSE) assert.ok(list.includes(p), p);
});

test('the server maps paths below its root only', () => {
  const root = mkdtempSync('/tmp/standin-serve-');
  mkdirSync(join(root, 'ubuntu/dists'), { recursive: true });
  writeFileSync(join(root, 'ubuntu/dists/Release'), 'x');
  try {
    assert.is(fileOf(root, '/ubuntu/dists/Release'), join(root, 'ubuntu/dists/Release'));
    assert.is(fileOf(root, '/ubuntu/dists/Release?x=1'), join(root, 'ubuntu/dists/Release'));
    assert.is(fileOf(root, '/ubuntu/dists'), undefined, 'a directory');
    assert.is(fileOf(root, '/../etc/passwd'), undefined, 'above the root: clamped to it');
    assert.is(fileOf(root, '/%2e%2e/%2e%2e/etc/passwd'), undefined);
  } finally {
    rmSync(root, { recursive: true });
  }
});

test('APT_KEYRING: --keyring on the mmdebstrap and debootstrap lines, nothing without it', () => {
  const base = { suite: 'resolute', target: '/t', arch: 'amd64', packages: ['chrony'], extraPackages: [], mirror: 'http://m/ubuntu' };
  for (const tool of ['mmdebstrap', 'debootstrap'] as const) {
    assert.ok(bootstrapArgs({ ...base, tool, keyring: '/k.gpg' }).includes('--keyring=/k.gpg'), tool);
    assert.not.ok(bootstrapArgs({ ...base, tool }).some((a) => a.startsWith('--keyring')), tool);
  }
});

test.run();
