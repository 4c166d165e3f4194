// A file capability works in the guest booted from ext4, erofs and xfs
// images: test/agent/cap-probe.c runs as init, drops root and runs a copy of
// itself holding cap_net_raw+ep (a raw packet socket must open) and a copy
// holding none (it must be refused), then powers off.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import { $ } from '../../lib/core/exec.ts';
import { AGENT_MARKER } from '../helpers/agent.ts';
import { cached, hashFiles } from '../helpers/cache.ts';
import { runImageTs } from '../helpers/image-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-cap-boot-');
const root = join(work, 'rootfs');
test.after(() => rmSync(work, { recursive: true, force: true }));

test.before(async () => {
  const src = new URL('../agent/cap-probe.c', import.meta.url).pathname;
  const dir = await cached('cap-probe', hashFiles('test/agent/cap-probe.c'), async (tmp) => {
    await $`gcc -static -Os -s -o ${join(tmp, 'cap-probe')} ${src}`;
  });
  const probe = join(dir, 'cap-probe');
  for (const d of ['sbin', 'usr/bin', 'dev', 'proc', 'sys', 'etc']) mkdirSync(join(root, d), { recursive: true });
  for (const to of ['sbin/init', 'usr/bin/cap-check', 'usr/bin/no-cap']) copyFileSync(probe, join(root, to));
  await $`chmod 755 ${join(root, 'sbin/init')} ${join(root, 'usr/bin/cap-check')} ${join(root, 'usr/bin/no-cap')}`;
  await $`setcap cap_net_raw+ep ${join(root, 'usr/bin/cap-check')}`;
});

for (const fs of ['ext4', 'erofs', 'xfs'] as const) {
  test(`${fs}: cap_net_raw+ep on a file lets an unprivileged process open a raw socket in the guest`, async () => {
    const image = join(work, `${fs}.img`);
    const r = await runImageTs(['-f', fs, '-o', image, root], { AGENT_INIT: 'yes' });
    assert.is(r.exitCode, 0, r.stderr);
    const boot = await bootGuest({ image, media: 'virtio', timeoutSeconds: 300 });
    assert.ok(boot.markerSeen, `${fs}: no ${AGENT_MARKER}:\n${boot.console.slice(-3000)}`);
    assert.match(boot.console, /CAP-CHECK \/usr\/bin\/cap-check uid=65534 raw-socket=OK/);
    assert.match(boot.console, /CAP-CHECK \/usr\/bin\/no-cap uid=65534 raw-socket=DENIED/);
  });
}

test.run();
