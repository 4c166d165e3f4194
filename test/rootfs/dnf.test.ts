// The default dnf builder for real: Debian's dnf installs stand-in rpms from
// a local repository (REPO_URL=file://..., or a DNF_CONF naming it) into the
// fedora installroot.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { manifestPath } from '../../lib/rootfs/manifest.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_STAND_INS } from '../helpers/rpm-repo.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-dnf-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('REPO_URL=file://... rootfs.ts fedora installs the packages with dnf and sets the tree up', async () => {
  const repo = await buildRpmRepo(join(scratch, 'rpms'), FEDORA_STAND_INS);
  const root = join(scratch, 'fedora_rootfs');
  const out = await runRootfs(['-r', root, '-o', '9.9-test', 'fedora'], {
    REPO_URL: `file://${repo}`,
    AGENT_SOURCE_BIN: await testAgentBinary(),
    SOURCE_DATE_EPOCH: '1700000000',
  });
  assert.is(out.exitCode, 0, out.stderr);
  const chronyUnit = readFileSync(join(root, 'usr/lib/systemd/system/chronyd.service'), 'utf8');
  assert.match(chronyUnit, /^\[Unit\]\nConditionPathExists=\/dev\/ptp0$/m);
  assert.match(chronyUnit, /^ExecStart=\/usr\/sbin\/chronyd +\$OPTIONS$/m);
  const chrony = readFileSync(join(root, 'etc/chrony.conf'), 'utf8');
  assert.match(chrony, /^# pool time\.example iburst$/m);
  assert.match(chrony, /^# server ntp\.example$/m);
  assert.match(chrony, /^refclock PHC \/dev\/ptp0 poll 3 dpoll -2 offset 0$/m);
  assert.ok(existsSync(join(root, 'usr/sbin/iptables')), 'iptables stand-in installed');
  assert.is(readlinkSync(join(root, 'sbin/init')), '../usr/lib/systemd/systemd');
  assert.ok(lstatSync(join(root, 'usr/bin/kata-agent')).isFile());
  assert.is(readlinkSync(join(root, 'var/tmp')), '../tmp');
  assert.is(readFileSync(join(root, 'etc/systemd/system/tmp.mount'), 'utf8').includes('What=tmpfs'), true);
  const summary = parse(readFileSync(join(root, 'var/lib/osbuilder/osbuilder.yaml'), 'utf8'));
  assert.is(summary['base-distro'].name, 'fedora');
  assert.equal(summary['base-distro'].packages.default, ['chrony', 'iptables', 'libseccomp', 'systemd']);
  assert.is(summary.osbuilder.version, '9.9-test');
  assert.is(summary['rootfs-creation-time'], '2023-11-14T22:13:20.000000000+0000Z');
  // dnf's scratch state stays out of the tree and off the host.
  assert.not.ok(existsSync(join(root, 'var/cache/dnf')));
  assert.not.ok(existsSync(join(root, 'var/log')));
});

test('DNF_CONF: its repositories are used as they are; its content is an input of the distro stage', async () => {
  const repo = await buildRpmRepo(join(scratch, 'rpms-conf'), FEDORA_STAND_INS);
  const noRepos = join(scratch, 'no-repos.d');
  mkdirSync(noRepos);
  const conf = join(scratch, 'my-dnf.conf');
  const confText = `[main]\ncachedir=/var/cache/dnf\nreposdir=${noRepos}\n\n[site-mirror]\nname=site mirror\nbaseurl=file://${repo}\nenabled=1\ngpgcheck=0\n`;
  writeFileSync(conf, confText);
  const root = join(scratch, 'fedora_conf_rootfs');
  const agent = await testAgentBinary();
  const build = () => runRootfs(['-r', root, 'fedora'], { DNF_CONF: conf, AGENT_SOURCE_BIN: agent, DEBUG: '1' });
  const out = await build();
  assert.is(out.exitCode, 0, out.stderr);
  const commands = (out.stdout + out.stderr).replace(/\x1b\[[0-9;]*m/g, ''); // the test runner's FORCE_COLOR reaches DEBUG's echo
  assert.ok(commands.includes(`--noplugins --config=${conf} --releasever=42 install`), 'dnf runs with DNF_CONF');
  assert.ok(existsSync(join(root, 'usr/sbin/iptables')), 'iptables stand-in installed from the site mirror');
  const manifest = JSON.parse(readFileSync(manifestPath(root), 'utf8'));
  assert.is(manifest.inputs.DNF_CONF, createHash('sha256').update(confText).digest('hex'));
  assert.ok(manifest.distroStage.includes('DNF_CONF'));
  appendFileSync(conf, 'skip_if_unavailable=False\n');
  const again = await build();
  assert.is(again.exitCode, 0, again.stderr);
  assert.match(again.stdout, /^INFO: Rebuilding rootfs .*, distro stage and setup: changed input\(s\): DNF_CONF$/m);
});

test('fedora without REPO_URL on a host without its repositories: one ERROR line', async () => {
  const out = await runRootfs(['-r', join(scratch, 'norepo'), 'fedora'], { AGENT_SOURCE_BIN: await testAgentBinary() });
  assert.is.not(out.exitCode, 0);
  assert.match(out.stderr, /^ERROR: no package repository for fedora: set REPO_URL/m);
  assert.not.ok(existsSync(join(scratch, 'norepo')));
});

// Fedora 41+ has dnf5, which reads an installroot's own (empty) repositories unless told otherwise.
test('dnf5 with the host\'s repositories (the build container\'s): --use-host-config; dnf 4 gets none', async () => {
  const bin = join(scratch, 'fake-dnf5');
  const log = join(scratch, 'dnf5-args');
  writeFileSync(bin, `#!/bin/sh\nif [ "$1" = --version ]; then echo 'dnf5 version 5.2.8.1'; echo 'libdnf5 version 5.2.8.1'; exit 0; fi\necho "$@" > ${log}\nexit 3\n`, { mode: 0o755 });
  const out = await runRootfs(['-r', join(scratch, 'dnf5'), 'fedora'], { PKG_MANAGER: bin, DISTRO_REPO: '1', AGENT_SOURCE_BIN: await testAgentBinary() });
  assert.is.not(out.exitCode, 0);
  assert.match(readFileSync(log, 'utf8'), /^-y --installroot=\S+ --noplugins --use-host-config --releasever=42 install iptables chrony/);
  const { isDnf5 } = await import('../../lib/rootfs/dnf.ts');
  assert.is(await isDnf5('dnf'), false, 'Debian\'s dnf is dnf 4');
});

test.run();
