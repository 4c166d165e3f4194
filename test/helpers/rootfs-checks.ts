// Checks every Kata Debian rootfs must pass, whichever tool built it.
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';

const read = (root: string, rel: string) => readFileSync(join(root, rel), 'utf8');

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

