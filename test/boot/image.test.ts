// Images from a real Debian rootfs (built by rootfs.ts with the test agent)
// boot in QEMU (TCG): virtio-blk with ext4 and erofs, and NVDIMM with the DAX
// header, where the root is found only through the PFN block (MBR #1 wiped),
// for the agent as init and for systemd starting it.
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import { AGENT_MARKER } from '../helpers/agent.ts';
import { runImageTs } from '../helpers/image-fixture.ts';
import { debianRootfs } from '../helpers/rootfs-fixture.ts';

let out = '';
test.before(() => {
  out = mkdtempSync('/var/tmp/image-boot-');
});
test.after(() => rmSync(out, { recursive: true, force: true }));

async function image(agentInit: 'yes' | 'no', fs: 'ext4' | 'erofs' | 'xfs', name: string): Promise<string> {
  const rootfs = await debianRootfs({ agentInit });
  const path = join(out, name);
  const r = await runImageTs(['-f', fs, '-o', path, rootfs], { AGENT_INIT: agentInit });
  assert.is(r.exitCode, 0, r.stderr);
  return path;
}

function assertBooted(r: { markerSeen: boolean; console: string }, what: string) {
  assert.ok(r.markerSeen, `${what}: no ${AGENT_MARKER} on the console:\n${r.console.slice(-3000)}`);
}

test('virtio-blk, ext4, systemd starts the agent', async () => {
  const r = await bootGuest({ image: await image('no', 'ext4', 'ext4-systemd.img'), media: 'virtio', timeoutSeconds: 400 });
  assertBooted(r, 'ext4 virtio');
  assert.match(r.console, /vda: vda1/);
});

test('virtio-blk, erofs, agent as init', async () => {
  const r = await bootGuest({ image: await image('yes', 'erofs', 'erofs-agent.img'), media: 'virtio', timeoutSeconds: 300 });
  assertBooted(r, 'erofs virtio');
  assert.match(r.console, /erofs/i);
});

/** Wipe MBR #1's partition table: only a kernel reading MBR #2 through the PFN block finds the root. */
function wipeMbr1(path: string): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(66), 0, 66, 446);
  closeSync(fd);
}

for (const agentInit of ['yes', 'no'] as const) {
  test(`NVDIMM with the DAX header, ext4 mounted with dax, root via the PFN namespace (AGENT_INIT=${agentInit})`, async () => {
    const path = await image(agentInit, 'ext4', `nvdimm-${agentInit}.img`);
    wipeMbr1(path);
    const r = await bootGuest({ image: path, media: 'nvdimm', rootFsType: 'ext4', timeoutSeconds: 400 });
    assertBooted(r, 'nvdimm');
    assert.match(r.console, /pmem0: p1/);
    assert.match(r.console, /EXT4-fs \(pmem0p1\): mounted/);
    assert.not.match(r.console, /DAX unsupported|Turning off DAX|dax.*not supported/i);
  });
}

test.run();
