// Checks every Kata Debian rootfs must pass, whichever tool built it.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
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
  // Upstream's Ubuntu list (+ kmod), SECCOMP=yes by default; init only when systemd is init.
  const packages = ['chrony', 'cryptsetup-bin', 'dbus', 'e2fsprogs', ...(agentInit === 'no' ? ['init'] : []), 'iptables', 'kmod', 'libseccomp2'];
  assert.equal(summary['base-distro'].packages.default, packages);
  assert.is(summary.agent.name, 'kata-agent');
  assert.is(summary.agent['agent-is-init-daemon'], agentInit);
  assert.match(summary['rootfs-creation-time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+0000Z$/);

  for (const d of ['doc', 'man', 'locale', 'info']) assert.not.ok(existsSync(join(root, 'usr/share', d)), `usr/share/${d} removed`);
  // The nodes as a table for the packers (lib/core/device-nodes.ts), none made in the tree.
  const table = read(root, 'dev/.osbuilder-device-nodes');
  for (const d of ['console', 'tty', 'ttyS0', 'null', 'zero']) {
    assert.match(table, new RegExp(`^dev/${d} c \\d+ \\d+ 0[0-7]{3} 0 0$`, 'm'), `dev/${d} in the table`);
    assert.not.ok(existsSync(join(root, 'dev', d)), `no dev/${d} node in the tree`);
  }
  assert.is(readlinkSync(join(root, 'dev/fd')), '/proc/self/fd');
  assert.is(readlinkSync(join(root, 'var/run')), '/run');
  // The build host's CA bundle (upstream copies it in), OpenSSL's default CA file pointing at it.
  assert.ok(lstatSync(join(root, 'etc/ssl/certs/ca-certificates.crt')).isFile());
  assert.match(read(root, 'etc/ssl/certs/ca-certificates.crt'), /^-----BEGIN CERTIFICATE-----$/m);
  assert.is(readlinkSync(join(root, 'usr/lib/ssl/cert.pem')), '../../../etc/ssl/certs/ca-certificates.crt');
  // Ubuntu's list: veritysetup (cryptsetup-bin) opens measured extensions, mkfs.ext4 and libseccomp2 are there.
  for (const f of ['sbin/veritysetup', 'sbin/mkfs.ext4', 'bin/dbus-daemon']) assert.ok(existsSync(join(root, f)) || existsSync(join(root, 'usr', f)), f);
  assert.ok(readdirSync(join(root, 'usr/lib')).some((d) => existsSync(join(root, 'usr/lib', d, 'libseccomp.so.2'))), 'libseccomp.so.2 installed');
  assert.ok(existsSync(join(root, 'usr/share/zoneinfo')), 'time zones kept, as upstream');
}

