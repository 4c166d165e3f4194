// aarch64 on this x86_64 host, for real: a Debian rootfs built by rootfs.ts
// with ARCH=aarch64 (maintainer scripts through qemu-user, the test agent
// cross-compiled), packed by image.ts and initrd.ts, each booted in
// qemu-system-aarch64 (-M virt -cpu max, TCG) with Debian's arm64 kernel,
// once with the agent as init and once started by systemd. boot.ts reads the
// architecture from the summary file inside the image and the initrd. Then
// the systemd tree as a measured base with a guest extension attached.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { bootGuest } from '../../lib/boot/boot.ts';
import { debianKernel } from '../../lib/boot/kernel.ts';
import { elfArch } from '../../lib/core/arch.ts';
import { $ } from '../../lib/core/exec.ts';
import { debianRootfs, repoRoot } from '../helpers/rootfs-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-aarch64-test-');
test.after(() => rmSync(work, { recursive: true, force: true }));
const tsx = join(repoRoot, 'node_modules/.bin/tsx');
const BOOT_TIMEOUT = 600;

for (const agentInit of ['yes', 'no'] as const) {
  test(`aarch64 Debian, AGENT_INIT=${agentInit}: rootfs, disk image and initrd, both boot in qemu-system-aarch64`, async () => {
    // The systemd tree gets the agent as a tarball, with the extension mount units (the extension boot below).
    const rootfs = await debianRootfs({ agentInit, arch: 'aarch64', agentTarball: agentInit === 'no' });
    const summary = parse(readFileSync(join(rootfs, 'var/lib/osbuilder/osbuilder.yaml'), 'utf8'));
    assert.is(summary.architecture, 'aarch64');
    assert.is(elfArch(readFileSync(join(rootfs, agentInit === 'yes' ? 'sbin/init' : 'usr/bin/kata-agent'))), 'aarch64', 'the test agent is arm64');
    assert.is(elfArch(readFileSync(join(rootfs, 'usr/bin/dpkg'))), 'aarch64', 'the distro packages are arm64');

    const env = { ...process.env, AGENT_INIT: agentInit };
    const image = join(work, `image-${agentInit}.img`);
    const initrd = join(work, `initrd-${agentInit}.img`);
    await $({ env })`${tsx} ${join(repoRoot, 'image.ts')} -o ${image} ${rootfs}`;
    await $({ env })`${tsx} ${join(repoRoot, 'initrd.ts')} -o ${initrd} ${rootfs}`;

    // Both boots at once (TCG runs a guest on one host core); the kernel and its apt lists first, shared by both.
    await debianKernel('aarch64');
    const targets = [{ image }, { initrd }];
    const boots = await Promise.all(targets.map((target) => bootGuest({ ...target, timeoutSeconds: BOOT_TIMEOUT })));
    targets.forEach((target, i) => {
      const kind = Object.keys(target)[0]!;
      const r = boots[i]!;
      assert.ok(r.markerSeen, `${kind}: no marker; console tail:\n${r.console.slice(-3000)}`);
      assert.match(r.console, /Booting Linux on physical CPU/, `${kind}: an arm64 kernel booted`);
      if (agentInit === 'no') assert.match(r.console, /systemd\[1\]|Started .*kata-agent|systemd \d+/, `${kind}: systemd started the agent`);
      console.log(`  aarch64 ${kind}, AGENT_INIT=${agentInit}: agent up ${r.seconds.toFixed(1)} s after QEMU started`);
    });
  });
}

test('aarch64: a measured base through dm-verity plus a measured erofs extension (virtio-blk-pci), mounted before the agent', async () => {
  const rootfs = await debianRootfs({ agentInit: 'no', arch: 'aarch64', agentTarball: true });
  const env = { ...process.env, AGENT_INIT: 'no', MEASURED_ROOTFS: 'yes', BUILD_VARIANT: 'base' };
  const image = join(work, 'measured.img');
  await $({ env })`${tsx} ${join(repoRoot, 'image.ts')} -o ${image} ${rootfs}`;
  const tree = join(work, 'ext-tree');
  mkdirSync(tree);
  writeFileSync(join(tree, 'marker'), 'arm arrived\n');
  const ext = join(work, 'arm-extension.img');
  const extEnv = { ...process.env, FS_TYPE: 'erofs', MEASURED_ROOTFS: 'yes', SKIP_DAX_HEADER: 'yes', SKIP_ROOTFS_CHECK: 'yes', BUILD_VARIANT: 'arm-extension' };
  await $({ env: extEnv })`${tsx} ${join(repoRoot, 'image.ts')} -o ${ext} ${tree}`;
  const r = await bootGuest({ image, extensions: [{ name: 'arm', image: ext }], timeoutSeconds: BOOT_TIMEOUT });
  assert.ok(r.markerSeen, `no marker; console tail:\n${r.console.slice(-3000)}`);
  assert.match(r.console, /dm-create: dm-verity \(ro\) is ready/);
  const mounted = r.console.indexOf('kata-extension-mount: extension arm mounted at /run/kata-extensions/arm (verified by dm-verity)');
  assert.ok(mounted >= 0 && r.console.indexOf('KATA-TEST-AGENT-EXTENSION arm: arm arrived') > mounted, r.console.slice(-3000));
  console.log(`  aarch64 base + extension: agent up ${r.seconds.toFixed(1)} s after QEMU started`);
});

test.run();
