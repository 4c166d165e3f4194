// s390x and ppc64le guests boot from every root filesystem image.ts makes,
// in CI: a minimal tree whose init is the cross-compiled test agent (a full
// foreign rootfs build is `make test-s390x` / `make test-ppc64le`), packed as
// ext4, xfs and erofs disk images and as an initrd, each booted with Debian's
// kernel for the architecture (its drivers are modules: the shim loads them,
// softdeps such as crc32c included). Not ppc64le erofs: Debian's ppc64el
// kernel has 64 KiB pages, and its erofs (6.1) cannot read the lz4hc files of
// an image with 4 KiB blocks, the only size mkfs.erofs 1.5 here writes
// (switch_root: "Operation not supported"; an uncompressed erofs boots).
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import type { Arch } from '../../lib/core/arch.ts';
import { $ } from '../../lib/core/exec.ts';
import { agentInitTree } from '../helpers/agent.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-foreign-disks-test-');
test.after(() => rmSync(work, { recursive: true, force: true }));
const tsx = join(repoRoot, 'node_modules/.bin/tsx');

const FILESYSTEMS: [Arch, string[]][] = [['s390x', ['ext4', 'xfs', 'erofs']], ['ppc64le', ['ext4', 'xfs']]];

for (const [arch, filesystems] of FILESYSTEMS) {
  test(`${arch}: ${filesystems.join(', ')} disk images and an initrd boot to the agent`, async () => {
    const tree = await agentInitTree(join(work, `tree-${arch}`), arch);
    const env = { ...process.env, AGENT_INIT: 'yes', ARCH: arch };
    const targets: { what: string; image?: string; initrd?: string }[] = [];
    for (const fs of filesystems) {
      const image = join(work, `${arch}-${fs}.img`);
      await $({ env })`${tsx} ${join(repoRoot, 'image.ts')} -f ${fs} -o ${image} ${tree}`;
      targets.push({ what: `${fs} image`, image });
    }
    const initrd = join(work, `${arch}-initrd.img`);
    await $({ env })`${tsx} ${join(repoRoot, 'initrd.ts')} -o ${initrd} ${tree}`;
    targets.push({ what: 'initrd', initrd });
    for (const { what, ...target } of targets) {
      const r = await bootGuest({ ...target, arch, timeoutSeconds: 300 });
      assert.ok(r.markerSeen, `${arch} ${what}: no marker; console tail:\n${r.console.slice(-3000)}`);
      console.log(`  ${arch} ${what}: agent up ${r.seconds.toFixed(1)} s after QEMU started`);
    }
  });
}

test('ppc64le: a compressed erofs image is refused before QEMU starts, naming the page size', async () => {
  const tree = await agentInitTree(join(work, 'tree-ppc64le'), 'ppc64le');
  const image = join(work, 'ppc64le-erofs.img');
  await $({ env: { ...process.env, AGENT_INIT: 'yes' } })`${tsx} ${join(repoRoot, 'image.ts')} -f erofs -o ${image} ${tree}`;
  const r = await $({ nothrow: true })`${tsx} ${join(repoRoot, 'boot.ts')} -a ppc64le ${image}`;
  assert.is.not(r.exitCode, 0);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.is(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /compresses files in 4 KiB blocks, which kernel [^ ]+ \(64 KiB pages\) cannot read: build it with FS_TYPE=ext4 or xfs/);
  assert.not.match(r.stdout + r.stderr, /qemu-system-ppc64|command line:/, 'QEMU did not start');
});

test.run();
