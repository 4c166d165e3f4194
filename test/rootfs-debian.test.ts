// Real Debian builds with mmdebstrap (the shared cached fixture, as the image
// and initrd tests use it) checked file by file.
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { testAgentBinary } from './helpers/agent.ts';
import { debianRootfs } from './helpers/rootfs-fixture.ts';

const read = (root: string, rel: string) => readFileSync(join(root, rel), 'utf8');

/** Checks every Debian rootfs passes, whatever built it. */
export function assertKataDebianRootfs(root: string, agentInit: 'yes' | 'no'): void {
  assert.ok(lstatSync(join(root, 'sbin/init')), 'sbin/init exists');
  const varTmp = lstatSync(join(root, 'var/tmp'));
  assert.ok(varTmp.isSymbolicLink());
  assert.is(readlinkSync(join(root, 'var/tmp')), '../tmp');
  const resolv = lstatSync(join(root, 'etc/resolv.conf'));
  assert.ok(resolv.isFile(), 'resolv.conf is a regular file');
  assert.is(resolv.size, 0);

  const chrony = read(root, 'etc/chrony/chrony.conf');
  assert.match(chrony, /^refclock PHC \/dev\/ptp0 poll 3 dpoll -2 offset 0$/m);
  assert.match(chrony, /^makestep 1 -1$/m);
  assert.not.match(chrony, /^(server|pool|peer) /m);
  assert.match(chrony, /^# pool /m);
  const unit = read(root, 'lib/systemd/system/chrony.service');
  assert.match(unit, /^\[Unit\]\nConditionPathExists=\/dev\/ptp0$/m);
  assert.not.match(unit, /^ExecStart=.*-u \w+/m);

  const summary = parse(read(root, 'var/lib/osbuilder/osbuilder.yaml'));
  assert.is(summary['file-format-version'], '0.0.2');
  assert.is(summary.description, 'osbuilder rootfs');
  assert.is(summary['base-distro'].name, 'debian');
  assert.is(summary['base-distro'].version, 'bookworm');
  assert.equal(summary['base-distro'].packages.default, ['chrony', 'init', 'iptables', 'kmod', 'systemd']);
  assert.is(summary.agent.name, 'kata-agent');
  assert.is(summary.agent['agent-is-init-daemon'], agentInit);
  assert.match(summary['rootfs-creation-time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+0000Z$/);

  for (const d of ['doc', 'man', 'locale', 'info']) assert.not.ok(existsSync(join(root, 'usr/share', d)), `usr/share/${d} removed`);
  assert.ok(statSync(join(root, 'dev/console')).isCharacterDevice());
}

test('AGENT_INIT=no: systemd is init, the agent is a service of an enabled kata-containers.target', async () => {
  const root = await debianRootfs({ agentInit: 'no' });
  assertKataDebianRootfs(root, 'no');
  assert.is(readlinkSync(join(root, 'sbin/init')), '/lib/systemd/systemd');
  assert.ok(existsSync(join(root, 'usr/lib/systemd/systemd')));
  const agent = join(root, 'usr/bin/kata-agent');
  assert.ok(statSync(agent).mode & 0o111, 'agent is executable');
  assert.equal(readFileSync(agent), readFileSync(await testAgentBinary()));
  const service = read(root, 'usr/lib/systemd/system/kata-agent.service');
  assert.match(service, /^Type=simple$/m);
  assert.match(service, /^ExecStart=\/usr\/bin\/kata-agent$/m);
  assert.match(service, /^TTYPath=\/dev\/console$/m);
  assert.not.match(service, /journald|udev|tmpfiles/);
  assert.match(read(root, 'usr/lib/systemd/system/kata-containers.target'), /^Requires=kata-agent\.service$/m);
  assert.is(
    readlinkSync(join(root, 'etc/systemd/system/basic.target.wants/kata-containers.target')),
    '/usr/lib/systemd/system/kata-containers.target',
  );
  assert.ok(existsSync(join(root, 'etc/systemd/system/tmp.mount')) || existsSync(join(root, 'usr/lib/systemd/system/tmp.mount')));
});

test('AGENT_INIT=yes: the agent is sbin/init, no agent left in usr/bin', async () => {
  const root = await debianRootfs({ agentInit: 'yes' });
  assertKataDebianRootfs(root, 'yes');
  const init = lstatSync(join(root, 'sbin/init'));
  assert.ok(init.isFile(), 'sbin/init is a regular file');
  assert.equal(readFileSync(join(root, 'sbin/init')), readFileSync(await testAgentBinary()));
  assert.not.ok(existsSync(join(root, 'usr/bin/kata-agent')));
  assert.not.ok(existsSync(join(root, 'etc/systemd/system/basic.target.wants/kata-containers.target')));
});

test.run();
