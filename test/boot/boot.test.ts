// The boot check itself: pure pieces (kernel parameters, QEMU command line,
// module order, file detection), the shim's module list from the real Debian
// kernel, and real TCG boots of a tiny initrd and tiny ext4/erofs disks.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mbrSector } from '../../lib/image/mbr.ts';
import { bootGuest, bootKindOf, firstPartitionOffset, rootFsTypeOf, rootParams } from '../../lib/boot/boot.ts';
import { $ } from '../../lib/core/exec.ts';
import { moduleDepends, moduleLoadOrder, moduleName, moduleSoftdepsPre, shimModulePaths, softdepModules } from '../../lib/boot/shim.ts';
import { debianCloudKernel, releaseFromDepends } from '../../lib/boot/kernel.ts';
import { qemuArgs } from '../../lib/boot/qemu.ts';
import { configPageBytes, erofsLayout } from '../../lib/boot/erofs-pages.ts';
import { AGENT_MARKER, agentInitTree } from '../helpers/agent.ts';

const work = mkdtempSync(join(tmpdir(), 'boot-test-'));
const repo = new URL('../../', import.meta.url).pathname;
test.after(() => rmSync(work, { recursive: true, force: true }));

test('kernel parameters for a disk root, as the Kata runtime passes them', () => {
  assert.is(rootParams('nvdimm', 'ext4'), 'root=/dev/pmem0p1 rootflags=dax,data=ordered,errors=remount-ro ro rootfstype=ext4');
  assert.is(rootParams('virtio', 'ext4'), 'root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4');
  assert.is(rootParams('nvdimm', 'xfs'), 'root=/dev/pmem0p1 rootflags=dax ro rootfstype=xfs');
  assert.is(rootParams('virtio', 'erofs'), 'root=/dev/vda1 ro rootfstype=erofs');
});

test('QEMU command line: always TCG, NVDIMM backed by the image file', () => {
  const nv = qemuArgs({ kernel: 'k', append: 'a', initrd: 'i', image: { path: '/x.img', bytes: 402653184, media: 'nvdimm' } });
  assert.equal(nv.slice(0, 2), ['-accel', 'tcg']);
  assert.ok(nv.includes('pc,nvdimm=on'));
  assert.ok(nv.includes('memory-backend-file,id=mem0,share=off,mem-path=/x.img,size=402653184'));
  assert.ok(nv.some((a) => /^\d+M,slots=2,maxmem=\d+M$/.test(a)));
  const vd = qemuArgs({ kernel: 'k', append: 'a', image: { path: '/x.img', bytes: 1, media: 'virtio' } });
  assert.ok(vd.includes('id=rootfs,file=/x.img,if=none,format=raw,readonly=on'));
  assert.ok(vd.includes('virtio-blk-pci,drive=rootfs'));
  assert.not.ok(vd.includes('-initrd'));
  assert.ok(vd.includes('-no-reboot'));
});

test('module load order: dependencies first, once each', () => {
  const deps: Record<string, string[]> = {
    virtio_pci: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio'],
    virtio_blk: ['virtio', 'virtio_ring'],
    virtio: ['virtio_ring'],
    nd_pmem: ['libnvdimm', 'nd_btt'],
    nd_btt: ['libnvdimm'],
  };
  const order = moduleLoadOrder(['virtio_pci', 'virtio-blk', 'nd_pmem'], (m) => deps[m] ?? []);
  assert.equal(order, ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci', 'virtio_blk', 'libnvdimm', 'nd_btt', 'nd_pmem']);
  assert.throws(() => moduleLoadOrder(['a'], (m) => (m === 'a' ? ['b'] : ['a'])), /dependency loop: a -> b -> a/);
  assert.is(moduleName('nd-pmem.ko.xz'), 'nd_pmem');
});

test('modinfo depends= is read from the module bytes', () => {
  const ko = Buffer.concat([Buffer.from('\x7fELF...\0license=GPL\0'), Buffer.from('depends=virtio,virtio_ring\0vermagic=6.1\0')]);
  assert.equal(moduleDepends(ko), ['virtio', 'virtio_ring']);
  assert.equal(moduleDepends(Buffer.from('\0depends=\0name=x\0')), []);
  assert.equal(moduleDepends(Buffer.from('xdepends=a\0')), [], 'only at a string start');
});

test('softdep=pre: names are loaded first, aliases resolved as modprobe would', () => {
  assert.equal(moduleSoftdepsPre(Buffer.from('\0softdep=pre: crc32c post: other\0')), ['crc32c']);
  assert.equal(moduleSoftdepsPre(Buffer.from('\0softdep=post: x\0depends=a\0')), []);
  assert.equal(moduleSoftdepsPre(Buffer.from('\0softdep=pre: a b\0')), ['a', 'b']);
  const index = new Map([['crc32c_generic', 'c/g.ko'], ['crc32c_vpmsum', 'c/v.ko'], ['crc32_generic', 'c/x.ko'], ['libcrc32c', 'l.ko']]);
  const aliases: Record<string, string[]> = { crc32c_generic: ['crypto-crc32c', 'crc32c'], crc32c_vpmsum: ['crypto-crc32c', 'crc32c'], crc32_generic: ['crc32'] };
  const aliasesOf = (m: string) => aliases[m] ?? [];
  assert.equal(softdepModules('crypto-crc32c', index, new Set(), aliasesOf), ['crc32c_generic'], 'the generic provider of an alias');
  assert.equal(softdepModules('crc32c', index, new Set(['crc32c']), aliasesOf), [], 'built in: nothing to load');
  assert.equal(softdepModules('libcrc32c', index, new Set(), aliasesOf), ['libcrc32c'], 'a module name');
  assert.equal(softdepModules('crc32', index, new Set(), () => []), [], 'nothing provides it: skipped');
  assert.equal(moduleLoadOrder(['ext4'], (m) => (m === 'ext4' ? ['crc32c_generic', 'jbd2'] : [])), ['crc32c_generic', 'jbd2', 'ext4']);
});

test('erofs block size and compression from the superblock; page size from a kernel config', () => {
  const head = Buffer.alloc(4096);
  head.writeUInt32LE(0xe0f5e1e2, 1024);
  head[1024 + 12] = 12;
  assert.equal(erofsLayout(head), { blockBytes: 4096, compressed: false });
  head.writeUInt32LE(0x1, 1024 + 80);
  assert.equal(erofsLayout(head), { blockBytes: 4096, compressed: true });
  assert.is(erofsLayout(Buffer.alloc(4096)), undefined);
  assert.is(configPageBytes('CONFIG_PPC_64K_PAGES=y\nCONFIG_PAGE_SIZE_64KB=y\n'), 65536);
  assert.is(configPageBytes('# CONFIG_PPC_64K_PAGES is not set\nCONFIG_X86=y\n'), 4096);
  assert.is(configPageBytes('CONFIG_ARM64_16K_PAGES=y\n'), 16384);
});

test('apt-cache depends names the current cloud kernel', () => {
  const out = 'linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-57-cloud-amd64\n';
  assert.is(releaseFromDepends(out), '6.1.0-57-cloud-amd64');
  assert.is(releaseFromDepends('linux-image-cloud-amd64\n'), undefined);
});

test('what a file is: initrd (gzip, zstd, cpio) or disk image (MBR); root filesystem type', () => {
  assert.is(bootKindOf(Buffer.from([0x1f, 0x8b, 8, 0])), 'initrd');
  assert.is(bootKindOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'initrd');
  assert.is(bootKindOf(Buffer.from('070701000')), 'initrd');
  const mbr = mbrSector([{ start: 6144, sectors: 2048 }], 1);
  assert.is(bootKindOf(mbr), 'image');
  assert.is(firstPartitionOffset(mbr), 3 << 20);
  assert.throws(() => firstPartitionOffset(mbrSector([], 1)), /no first partition/);
  assert.throws(() => firstPartitionOffset(Buffer.alloc(512)), /no MBR partition table/);
  assert.is(bootKindOf(Buffer.from('hello')), undefined);
  const ext4 = Buffer.alloc(4096);
  ext4.writeUInt16LE(0xef53, 1024 + 56);
  assert.is(rootFsTypeOf(ext4), 'ext4');
  const erofs = Buffer.alloc(4096);
  erofs.writeUInt32LE(0xe0f5e1e2, 1024);
  assert.is(rootFsTypeOf(erofs), 'erofs');
  assert.is(rootFsTypeOf(Buffer.from('XFSB')), 'xfs');
  assert.is(rootFsTypeOf(Buffer.alloc(4096)), undefined);
});

test('the shim carries the Debian kernel modules for virtio, NVDIMM, xfs and erofs in load order', async () => {
  const kernel = await debianCloudKernel();
  const names = shimModulePaths(kernel.modulesDir).map((p) => moduleName(p.split('/').pop()!));
  const before = (a: string, b: string) => assert.ok(names.indexOf(a) >= 0 && names.indexOf(a) < names.indexOf(b), `${a} before ${b}: ${names}`);
  before('virtio_ring', 'virtio');
  before('virtio', 'virtio_pci');
  before('virtio', 'virtio_blk');
  before('libnvdimm', 'nfit');
  before('libnvdimm', 'nd_pmem');
  before('libcrc32c', 'xfs');
  assert.ok(names.includes('erofs'));
  assert.is(new Set(names).size, names.length);
});

test('an initrd whose init is the agent boots to the marker', async () => {
  const tree = await agentInitTree(join(work, 'tree'));
  const initrd = join(work, 'tiny-initrd.img');
  await $({ env: { ...process.env, AGENT_INIT: 'yes' } })`${join(repo, 'node_modules/.bin/tsx')} ${join(repo, 'initrd.ts')} -o ${initrd} ${tree}`;
  const r = await bootGuest({ initrd, timeoutSeconds: 120 });
  assert.ok(r.markerSeen, r.console.slice(-2000));
  assert.ok(r.console.includes(AGENT_MARKER));
  assert.ok(r.seconds > 0 && r.seconds < 120);
});

/** A disk with one MBR partition at 1 MiB holding `fs`. */
async function diskWith(fs: string, name: string): Promise<string> {
  const disk = join(work, name);
  const { size } = await import('node:fs').then((m) => m.statSync(fs));
  writeFileSync(disk, Buffer.alloc(0));
  await $`truncate -s 1M ${disk} && cat ${fs} >> ${disk} && truncate -s +1M ${disk}`;
  await $`echo ${`start=2048, size=${Math.ceil(size / 512)}, type=83`} | sfdisk -q ${disk}`;
  return disk;
}

test('ext4 and erofs disks boot through the shim over virtio-blk', async () => {
  const tree = await agentInitTree(join(work, 'tree'));
  const ext4 = join(work, 'root.ext4');
  await $`truncate -s 32M ${ext4} && mkfs.ext4 -q -F -b 4096 -d ${tree} ${ext4}`;
  const erofs = join(work, 'root.erofs');
  await $`mkfs.erofs --quiet ${erofs} ${tree}`;
  for (const [fs, type] of [[ext4, 'ext4'], [erofs, 'erofs']] as const) {
    const r = await bootGuest({ image: await diskWith(fs, `${type}.img`), media: 'virtio', timeoutSeconds: 120 });
    assert.ok(r.markerSeen, `${type}:\n${r.console.slice(-2000)}`);
    assert.match(r.console, type === 'ext4' ? /EXT4-fs \(vda1\): mounted/ : /erofs.*vda1/i);
  }
});

test('a guest that never shows the marker: markerSeen false, no hang past the timeout', async () => {
  const tree = await agentInitTree(join(work, 'tree'));
  const initrd = join(work, 'silent.img');
  await $({ env: { ...process.env, AGENT_INIT: 'yes' } })`${join(repo, 'node_modules/.bin/tsx')} ${join(repo, 'initrd.ts')} -o ${initrd} ${tree}`;
  const start = Date.now();
  const r = await bootGuest({ initrd, marker: 'NEVER-PRINTED', timeoutSeconds: 60 });
  assert.not.ok(r.markerSeen);
  assert.ok(r.console.includes(AGENT_MARKER), 'the guest ran (and powered off)');
  assert.ok(Date.now() - start < 60_000);
  assert.match(r.reason ?? '', /powered off without printing the marker/);
});

test.run();
