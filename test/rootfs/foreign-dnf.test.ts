// A foreign dnf build: stand-in rpms built for aarch64 (rpmbuild --target),
// installed by Debian's dnf with --forcearch=aarch64 into the installroot;
// the full build records aarch64 in the summary file.
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { $ } from '../../lib/core/exec.ts';
import { elfArch } from '../../lib/core/arch.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_STAND_INS } from '../helpers/rpm-repo.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-foreign-dnf-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

let repoUrl = '';
const repo = async () => (repoUrl ||= `file://${await buildRpmRepo(join(scratch, 'rpms'), FEDORA_STAND_INS, 'aarch64')}`);
// eslint-disable-next-line no-control-regex
const echoed = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

test('fedora ARCH=aarch64: dnf --forcearch=aarch64 installs the aarch64 rpms into the installroot', async () => {
  const root = join(scratch, 'stage_rootfs');
  const out = await runRootfs(['-r', root, 'fedora'], { ARCH: 'aarch64', REPO_URL: await repo(), STAGE_PREPARE_ROOTFS: '1', DEBUG: '1' });
  assert.is(out.exitCode, 0, out.stderr);
  assert.match(echoed(out.stderr), /dnf -y --installroot=\S+ .*--forcearch=aarch64 install iptables chrony systemd/, out.stderr);
  const db = await $`rpm --root ${root} -qa --qf ${'%{NAME} %{ARCH}\n'}`;
  assert.equal(db.stdout.trim().split('\n').sort(), ['chrony aarch64', 'iptables aarch64', 'libseccomp aarch64', 'systemd aarch64']);
  assert.is(readlinkSync(join(root, 'sbin/init')), '../usr/lib/systemd/systemd');
});

test('fedora ARCH=aarch64, full build: the aarch64 agent is installed and the summary says aarch64', async () => {
  const root = join(scratch, 'fedora_rootfs');
  const agent = await testAgentBinary('aarch64');
  const out = await runRootfs(['-r', root, 'fedora'], { ARCH: 'aarch64', REPO_URL: await repo(), AGENT_SOURCE_BIN: agent });
  assert.is(out.exitCode, 0, out.stderr);
  assert.is(elfArch(readFileSync(join(root, 'usr/bin/kata-agent'))), 'aarch64');
  assert.is(parse(readFileSync(join(root, 'var/lib/osbuilder/osbuilder.yaml'), 'utf8')).architecture, 'aarch64');
});

test.run();
