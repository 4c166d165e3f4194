// centos and cbl-mariner for real: Debian's dnf installs stand-in rpms named
// as their package lists need from a local repository (REPO_URL=file://...).
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { haveCommand } from '../../lib/core/exec.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { LIBSECCOMP_STAND_IN, buildRpmRepo, type StandInRpm } from '../helpers/rpm-repo.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-distro-dnf-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const chronyFiles = {
  'etc/chrony.conf': 'pool pool.example iburst\n',
  'usr/lib/systemd/system/chronyd.service': '[Unit]\nDescription=NTP\n\n[Service]\nExecStart=/usr/sbin/chronyd -u chrony $OPTIONS\n',
};
const standIns: StandInRpm[] = [
  { name: 'chrony', files: chronyFiles },
  { name: 'iptables', files: { 'usr/sbin/iptables': '#!/bin/sh\n' }, mode: { 'usr/sbin/iptables': '755' } },
  { name: 'systemd', files: { 'usr/lib/systemd/systemd': '#!/bin/sh\n', 'sbin/init': '-> ../usr/lib/systemd/systemd' }, mode: { 'usr/lib/systemd/systemd': '755' } },
  LIBSECCOMP_STAND_IN,
  // The real meta package pulls chrony and the rest of the guest userland in.
  { name: 'kata-packages-uvm', files: { ...chronyFiles, 'usr/share/kata-packages-uvm': 'stand-in\n' } },
  { name: 'e2fsprogs', files: { 'usr/sbin/mkfs.ext4': '#!/bin/sh\n' }, mode: { 'usr/sbin/mkfs.ext4': '755' } },
];

let repoUrl = '';
const repo = async () => (repoUrl ||= `file://${await buildRpmRepo(join(scratch, 'rpms'), standIns)}`);

// The DEBUG command echo, without colours.
// eslint-disable-next-line no-control-regex
const echoed = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

const summaryOf = (root: string) => parse(readFileSync(join(root, 'var/lib/osbuilder/osbuilder.yaml'), 'utf8'));

test('centos SECCOMP=yes: dnf --releasever=9 installs chrony iptables systemd libseccomp; chrony set up', async () => {
  const root = join(scratch, 'centos_rootfs');
  const out = await runRootfs(['-r', root, 'centos'], { REPO_URL: await repo(), SECCOMP: 'yes', AGENT_SOURCE_BIN: await testAgentBinary(), DEBUG: '1' });
  assert.is(out.exitCode, 0, out.stderr);
  assert.match(echoed(out.stderr), /dnf -y --installroot=\S+ --noplugins --config=\S+kata-centos-dnf.conf --releasever=9 install chrony iptables systemd libseccomp/, out.stderr);
  assert.ok(existsSync(join(root, 'usr/lib64/libseccomp.so.2')));
  assert.is(readlinkSync(join(root, 'sbin/init')), '../usr/lib/systemd/systemd');
  assert.match(readFileSync(join(root, 'etc/chrony.conf'), 'utf8'), /^# pool pool\.example iburst\nrefclock PHC/m);
  const s = summaryOf(root);
  assert.equal([s['base-distro'].name, s['base-distro'].version], ['centos', 'stream9']);
  assert.equal(s['base-distro'].packages.default, ['chrony', 'iptables', 'libseccomp', 'systemd']);
});

test('cbl-mariner AGENT_INIT=yes: kata-packages-uvm e2fsprogs libseccomp (SECCOMP=yes, the default) without systemd, the agent is init', async () => {
  const root = join(scratch, 'mariner_rootfs');
  const out = await runRootfs(['-r', root, 'cbl-mariner'], { REPO_URL: await repo(), AGENT_INIT: 'yes', AGENT_SOURCE_BIN: await testAgentBinary(), DEBUG: '1' });
  assert.is(out.exitCode, 0, out.stderr);
  // tdnf first; this host has only dnf.
  const pm = (await haveCommand('tdnf')) ? 'tdnf' : 'dnf';
  assert.match(echoed(out.stderr), new RegExp(`${pm} -y --installroot=\\S+ --noplugins --config=\\S+kata-cbl-mariner-dnf.conf --releasever=3.0 install kata-packages-uvm e2fsprogs libseccomp\\n`), out.stderr);
  assert.ok(existsSync(join(root, 'usr/sbin/mkfs.ext4')));
  assert.not.ok(existsSync(join(root, 'usr/lib/systemd/systemd')), 'no systemd with the agent as init');
  assert.ok(lstatSync(join(root, 'sbin/init')).isFile());
  assert.not.ok(existsSync(join(root, 'usr/bin/kata-agent')));
  const s = summaryOf(root);
  assert.equal([s['base-distro'].name, s['base-distro'].version, s.agent['agent-is-init-daemon']], ['cbl-mariner', '3.0', 'yes']);
  assert.equal(s['base-distro'].packages.default, ['e2fsprogs', 'kata-packages-uvm', 'libseccomp']);
});

test.run();
