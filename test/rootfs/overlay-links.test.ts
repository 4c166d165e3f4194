// Overlay mode (`rootfs.ts -r DIR`, no DISTRO) on a tree whose top-level
// directories are absolute symlinks to a sentinel directory outside it (issue
// #23 item 5): the sentinel never changes, byte for byte. Where the link
// leads nowhere inside the tree the run is one ERROR naming it and the tree
// is left as it was (item 9); where the guest's view of the link exists
// inside the tree, the setup's writes land there.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testAgentBinary } from '../helpers/agent.ts';
import { dirSnapshot } from '../helpers/dir-snapshot.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-overlay-links-test-');
// Not under /var, /etc, /sbin or /usr: there the guest would see a link loop instead.
const sentinels = mkdtempSync('/tmp/osbuilder-overlay-sentinel-');
test.after(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(sentinels, { recursive: true, force: true });
});

/** A host directory holding what each setup step would have touched through the link. */
function sentinel(name: string): string {
  const dir = join(sentinels, name);
  for (const d of ['cache/apt', 'lib/dpkg', 'log', 'tmp', 'systemd/system', 'bin', 'lib/systemd/system', 'share/systemd']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'cache/apt/pkgcache.bin'), 'cache\n');
  writeFileSync(join(dir, 'lib/dpkg/status'), 'Package: x\n');
  writeFileSync(join(dir, 'log/syslog'), 'log\n');
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 192.0.2.1\n');
  writeFileSync(join(dir, 'init'), '#!/bin/sh\n# the host init\n', { mode: 0o755 });
  writeFileSync(join(dir, 'fstab'), '/dev/sda1 / ext4 defaults 0 1\n');
  writeFileSync(join(dir, 'chrony.conf'), 'pool 2.debian.pool.ntp.org\n');
  return dir;
}

/** An existing tree (as a user gives to -r) with `link` -> the sentinel, absolute. */
function treeWithLink(name: string, link: string, outside: string): string {
  const root = join(scratch, name);
  for (const d of ['etc', 'sbin', 'usr/bin', 'var', 'lib']) if (d.split('/')[0] !== link) mkdirSync(join(root, d), { recursive: true });
  symlinkSync(outside, join(root, link));
  return root;
}

for (const [link, env] of [
  ['var', {}],
  ['etc', {}],
  ['sbin', { AGENT_INIT: 'yes' }],
  ['usr', {}],
] as const) {
  test(`${link} -> a directory outside: one ERROR naming the link; the outside and the tree unchanged`, async () => {
    const outside = sentinel(`nowhere-${link}`);
    const root = treeWithLink(`nowhere-${link}`, link, outside);
    const [outsideBefore, treeBefore] = [dirSnapshot(outside), dirSnapshot(root)];
    const out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary(), ...env });
    assert.equal(dirSnapshot(outside), outsideBefore, `nothing outside changed\n${out.stderr}`);
    assert.is.not(out.exitCode, 0, out.stdout);
    const errors = out.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
    assert.is(errors.length, 1, out.stderr);
    assert.match(errors[0]!, `/${link} -> ${outside}`);
    assert.equal(dirSnapshot(root), treeBefore, 'the tree left as it was');
    assert.equal(dirSnapshot(join(root, '..')).filter((l) => l.includes('.partial-')), [], 'no staging copy left');
  });
}

test('an overlay run failing late (etc/resolv.conf is a directory) leaves the tree as it was: no agent, var/ untouched', async () => {
  const root = join(scratch, 'late-failure');
  for (const d of ['etc/resolv.conf', 'var/log', 'var/lib/dpkg', 'usr/bin', 'sbin']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'var/log/syslog'), 'log\n');
  writeFileSync(join(root, 'var/lib/dpkg/status'), 'Package: x\n');
  const before = dirSnapshot(root);
  const out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary() });
  assert.is.not(out.exitCode, 0, out.stdout);
  const errors = out.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.equal(errors, [`ERROR: cannot replace /etc/resolv.conf in ${root}: it is a directory`], out.stderr);
  assert.equal(dirSnapshot(root), before, 'the tree left as it was');
  assert.equal(dirSnapshot(scratch).filter((l) => l.includes('.partial-')), [], 'no staging copy left');
});

test('var -> and etc -> the guest\'s own directory: the setup writes there, nothing outside changes', async () => {
  const outside = sentinel('inside');
  const root = join(scratch, 'inside');
  // The guest resolves an absolute link in its own root: <root><outside> is what /var and /etc are.
  mkdirSync(join(root, outside), { recursive: true });
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  mkdirSync(join(root, 'sbin'), { recursive: true });
  // chrony.conf where the host's distro config (Debian family, else Red Hat) looks.
  for (const conf of ['chrony/chrony.conf', 'chrony.conf']) {
    mkdirSync(join(root, outside, conf, '..'), { recursive: true });
    writeFileSync(join(root, outside, conf), 'pool 2.debian.pool.ntp.org\n');
  }
  symlinkSync(outside, join(root, 'var'));
  symlinkSync(outside, join(root, 'etc'));
  const before = dirSnapshot(outside);
  // AGENT_INIT=yes: the agent's systemd units (etc/systemd/system) are not written, see the refusal above.
  const out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary(), AGENT_INIT: 'yes', OSBUILDER_VERSION: 'overlay-test' });
  assert.equal(dirSnapshot(outside), before, `nothing outside changed\n${out.stderr}`);
  assert.is(out.exitCode, 0, out.stderr);
  const guest = join(root, outside);
  assert.match(readFileSync(join(guest, 'lib/osbuilder/osbuilder.yaml'), 'utf8'), /version: "overlay-test"/);
  assert.ok(existsSync(join(guest, 'lib/osbuilder/sbom.cdx.json')));
  assert.is(readFileSync(join(guest, 'resolv.conf'), 'utf8'), '');
  const edited = ['chrony/chrony.conf', 'chrony.conf'].filter((c) => /^refclock PHC \/dev\/ptp0/m.test(readFileSync(join(guest, c), 'utf8')));
  assert.is(edited.length, 1, 'chrony.conf edited in the tree');
  assert.ok(existsSync(join(root, 'sbin/init')), 'the agent is init');
});

test.run();
