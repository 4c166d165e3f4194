// A file capability works in the booted guest: image.ts packs a tree whose
// /usr/bin/cap-probe carries cap_net_raw,cap_net_admin+ep; PID 1
// (test/agent/cap-init.c) runs it as uid 65534 and the probe prints its
// effective set. ext4, erofs and xfs, each booted under QEMU (TCG) through
// the shim initramfs over virtio-blk.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import { $ } from '../../lib/core/exec.ts';
import { cached, hashFiles } from '../helpers/cache.ts';
import { runImageTs } from '../helpers/image-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-cap-boot-');
test.after(() => rmSync(work, { recursive: true, force: true }));

async function capInit(): Promise<string> {
  const src = new URL('../agent/cap-init.c', import.meta.url).pathname;
  const dir = await cached('cap-init', hashFiles('test/agent/cap-init.c'), async (tmp) => {
    await $`gcc -static -Os -s -o ${join(tmp, 'cap-init')} ${src}`;
  });
  return join(dir, 'cap-init');
}

// cap_net_admin is bit 12, cap_net_raw bit 13.
const WANT = /CAP-PROBE uid=65534 CapEff:\s+0000000000003000/;

test('a file capability (cap_net_raw,cap_net_admin+ep) is effective in the guest booted from ext4, erofs and xfs', async () => {
  const tree = join(work, 'tree');
  for (const d of ['sbin', 'usr/bin', 'dev', 'proc', 'sys']) mkdirSync(join(tree, d), { recursive: true });
  const bin = await capInit();
  await $`cp ${bin} ${join(tree, 'sbin/init')} && cp ${bin} ${join(tree, 'usr/bin/cap-probe')} && ln ${join(tree, 'sbin/init')} ${join(tree, 'usr/bin/kata-agent')}`;
  await $`chmod 755 ${join(tree, 'usr/bin/cap-probe')} && setcap cap_net_raw,cap_net_admin+ep ${join(tree, 'usr/bin/cap-probe')}`;
  for (const fs of ['ext4', 'erofs', 'xfs']) {
    const image = join(work, `${fs}.img`);
    const r = await runImageTs(['-f', fs, '-o', image, tree], { AGENT_INIT: 'yes', SKIP_DAX_HEADER: 'yes' });
    assert.is(r.exitCode, 0, `${fs}: ${r.stderr}`);
    const boot = await bootGuest({ image, media: 'virtio', marker: 'CAP-TEST-DONE', timeoutSeconds: 150 });
    assert.ok(boot.markerSeen, `${fs}:\n${boot.console.slice(-2000)}`);
    assert.match(boot.console, WANT, `${fs}: the probe's effective set:\n${boot.console.slice(-1500)}`);
    rmSync(image);
  }
});

test.run();
