// Guest extension images as upstream builds them (FS_TYPE=erofs
// MEASURED_ROOTFS=yes SKIP_DAX_HEADER=yes SKIP_ROOTFS_CHECK=yes
// BUILD_VARIANT=<name>-extension): a tree with no init accepted, erofs in p1,
// the hash tree in p2 up to the last sector, upstream's small size, no
// machine-id added to a tree without /etc, an SBOM beside it, and byte for
// byte the same image, root hash file and SBOM from two builds under
// SOURCE_DATE_EPOCH.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rootFsTypeOf } from '../../lib/boot/boot.ts';
import { diskPartitions, readAt } from '../../lib/boot/partitions.ts';
import { MiB } from '../../lib/image/layout.ts';
import { $ } from '../../lib/core/exec.ts';
import { runImageTs } from '../helpers/image-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'extension-image-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

const EXTENSION_ENV = { FS_TYPE: 'erofs', MEASURED_ROOTFS: 'yes', SKIP_DAX_HEADER: 'yes', SKIP_ROOTFS_CHECK: 'yes', BUILD_VARIANT: 'tools-extension' };

/** An extension's content: binaries and a manifest, no init, no /etc. */
function extensionTree(): string {
  const tree = join(work, 'tree');
  mkdirSync(join(tree, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(tree, 'usr/share/tools'), { recursive: true });
  writeFileSync(join(tree, 'usr/local/bin/tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  writeFileSync(join(tree, 'usr/share/tools/components.toml'), 'schema_version = 1\n');
  // Other mtimes than the epoch: clamping must make them irrelevant.
  utimesSync(join(tree, 'usr/local/bin/tool'), new Date(), new Date());
  return tree;
}

async function build(dir: string, env: Record<string, string>): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const image = join(dir, 'kata-containers-tools-extension.img');
  const r = await runImageTs(['-o', image, extensionTree()], { ...EXTENSION_ENV, ...env });
  assert.is(r.exitCode, 0, r.stderr);
  return image;
}

test('without SKIP_ROOTFS_CHECK=yes a tree with no init is refused: one ERROR', async () => {
  const r = await runImageTs(['-o', join(work, 'refused.img'), extensionTree()], { ...EXTENSION_ENV, SKIP_ROOTFS_CHECK: 'no' });
  assert.is.not(r.exitCode, 0);
  assert.is(r.stderr.split('\n').filter((l) => l.startsWith('ERROR:')).length, 1, r.stderr);
  assert.not.ok(existsSync(join(work, 'refused.img')));
});

test('an extension image: erofs p1, hash p2 to the last sector, 4 MiB for a tiny tree, no machine-id, SBOM and root hash file beside it', async () => {
  const image = await build(join(work, 'one'), { SOURCE_DATE_EPOCH: '1700000000' });
  const parts = diskPartitions(image);
  assert.ok(parts.data && parts.hash, 'p1 and p2');
  assert.is(rootFsTypeOf(readAt(image, parts.data!.offset, 4096)), 'erofs');
  assert.is(parts.data!.offset, MiB, 'no DAX header: p1 at 1 MiB');
  assert.is(parts.hash!.offset + parts.hash!.bytes, statSync(image).size);
  // Upstream: N = floor((fs + 1 MiB) / 1 MiB) + 2 = 3 for a few KiB, measured N*100/99 + 1 = 4.
  assert.is(statSync(image).size, 4 * MiB);
  const line = readFileSync(join(work, 'one/root_hash_tools-extension.txt'), 'utf8');
  assert.match(line, /^root_hash=[0-9a-f]{64},salt=[0-9a-f]{64},data_blocks=\d+,data_block_size=4096,hash_block_size=4096\n?$/);
  const fsck = await $({ nothrow: true })`sh -c ${`dd if=${image} of=${join(work, 'p1.img')} bs=1M skip=1 count=${parts.data!.bytes / MiB} status=none && fsck.erofs --extract=${join(work, 'out')} ${join(work, 'p1.img')}`}`;
  assert.is(fsck.exitCode, 0, fsck.stderr);
  assert.ok(existsSync(join(work, 'out/usr/local/bin/tool')));
  assert.not.ok(existsSync(join(work, 'out/etc')), 'no /etc (and no machine-id) added to an extension');
  const sbom = JSON.parse(readFileSync(`${image}.cdx.json`, 'utf8'));
  assert.is(sbom.bomFormat, 'CycloneDX');
});

test('reproducible under SOURCE_DATE_EPOCH: two builds give the same image, root hash file and SBOM', async () => {
  const a = join(work, 'one/kata-containers-tools-extension.img');
  const b = await build(join(work, 'two'), { SOURCE_DATE_EPOCH: '1700000000' });
  assert.ok(readFileSync(a).equals(readFileSync(b)), 'images differ');
  assert.is(readFileSync(join(work, 'two/root_hash_tools-extension.txt'), 'utf8'), readFileSync(join(work, 'one/root_hash_tools-extension.txt'), 'utf8'));
  assert.is(readFileSync(`${b}.cdx.json`, 'utf8'), readFileSync(`${a}.cdx.json`, 'utf8'));
});

test.run();
