// Debian rootfs (built by rootfs.ts with the test agent) packed by initrd.ts:
// the initrd lists the tree exactly, and it boots to the agent's marker both
// with the agent as init and with systemd starting it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import { $ } from '../../lib/core/exec.ts';
import { archiveListing, initrdMembers, listingDiff, treeListing } from '../helpers/initrd-listing.ts';
import { debianRootfs, repoRoot } from '../helpers/rootfs-fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'boot-initrd-test-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

async function buildInitrd(rootfs: string, agentInit: 'yes' | 'no'): Promise<string> {
  const out = join(work, `initrd-${agentInit}.img`);
  await $({ env: { ...process.env, AGENT_INIT: agentInit } })`${join(repoRoot, 'node_modules/.bin/tsx')} ${join(repoRoot, 'initrd.ts')} -o ${out} ${rootfs}`;
  return out;
}

for (const agentInit of ['yes', 'no'] as const) {
  test(`Debian initrd, AGENT_INIT=${agentInit}: same tree, boots to the agent`, async () => {
    const rootfs = await debianRootfs({ agentInit });
    const initrd = await buildInitrd(rootfs, agentInit);

    const expected = await treeListing(rootfs);
    const init = agentInit === 'yes' ? '/sbin/init' : '/lib/systemd/systemd';
    expected.set('init', { mode: '120777', uid: 0, gid: 0, size: init.length, target: init });
    const diffs = listingDiff(expected, archiveListing(await initrdMembers(initrd)));
    assert.equal(diffs, [], diffs.join('\n'));

    const r = await bootGuest({ initrd, timeoutSeconds: 300 });
    assert.ok(r.markerSeen, `no marker; console tail:\n${r.console.slice(-3000)}`);
    if (agentInit === 'no') assert.match(r.console, /systemd\[1\]|Started .*kata-agent/, 'systemd started the agent');
    console.log(`  AGENT_INIT=${agentInit}: agent up ${r.seconds.toFixed(1)} s after QEMU started`);
  });
}

test.run();
