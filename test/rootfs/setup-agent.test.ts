// The three agent sources and the other setupRootfs steps, on an existing
// directory (no DISTRO: prepareOverlay), with real git, make and tar.
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-agent-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

function freshDir(name: string): string {
  const dir = join(scratch, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The fixture agent source as a git repo: tag v1 (1.0.0-fixture), then a v2 commit on top. */
async function agentSourceRepo(): Promise<string> {
  const src = join(scratch, 'agent-src');
  rmSync(src, { recursive: true, force: true });
  cpSync(join(repoRoot, 'test/fixtures/agent-src'), src, { recursive: true });
  const git = $({ cwd: src });
  await git`git init -q -b main && git -c user.name=t -c user.email=t@t add -A && git -c user.name=t -c user.email=t@t commit -qm v1 && git tag v1`;
  writeFileSync(join(src, 'VERSION'), '2.0.0-fixture\n');
  await git`git -c user.name=t -c user.email=t@t commit -qam v2`;
  return src;
}

test('agent built from source: git checkout AGENT_VERSION, make with LIBC/INIT/SECCOMP, make install DESTDIR', async () => {
  const src = await agentSourceRepo();
  const root = freshDir('from-source');
  const out = await runRootfs(['-r', root, '-a', 'v1'], { AGENT_SOURCE_DIR: src, LIBC: 'gnu', SECCOMP: 'yes' });
  assert.is(out.exitCode, 0, out.stderr);
  const agent = join(root, 'usr/bin/kata-agent');
  const run = await $`${agent}`;
  assert.is(run.stdout.trim(), 'fixture-agent version=1.0.0-fixture libc=gnu init=no seccomp=yes policy=no');
  // The units of the agent's own make install are kept and the target enabled.
  assert.match(readFileSync(join(root, 'usr/lib/systemd/system/kata-agent.service'), 'utf8'), /from make install/);
  assert.is(readlinkSync(join(root, 'etc/systemd/system/basic.target.wants/kata-containers.target')), '/usr/lib/systemd/system/kata-containers.target');
  // prepareOverlay: init -> systemd, sbin/init -> /init.
  assert.is(readlinkSync(join(root, 'init')), './usr/lib/systemd/systemd');
  assert.is(readlinkSync(join(root, 'sbin/init')), '/init');
  assert.match(readFileSync(join(root, 'var/lib/osbuilder/osbuilder.yaml'), 'utf8'), /^  version: "v1"$/m);
  assert.is(readFileSync(join(root, 'etc/resolv.conf'), 'utf8'), '');
});

test('a bad AGENT_VERSION is one ERROR line', async () => {
  const src = await agentSourceRepo();
  const out = await runRootfs(['-r', freshDir('bad-version'), '-a', 'no-such-ref'], { AGENT_SOURCE_DIR: src });
  assert.is.not(out.exitCode, 0);
  assert.match(out.stderr, /^ERROR: checkout of agent version no-such-ref .* failed/m);
});

test('no agent source at all names the three ways to give one', async () => {
  const out = await runRootfs(['-r', freshDir('no-agent')], { AGENT_SOURCE_DIR: join(scratch, 'nowhere') });
  assert.is.not(out.exitCode, 0);
  assert.match(out.stderr, /^ERROR: no agent: .* set AGENT_SOURCE_DIR .* AGENT_SOURCE_BIN \/ AGENT_TARBALL/m);
});

test('AGENT_TARBALL unpacked at the root; AGENT_INIT=yes moves the agent to sbin/init', async () => {
  const stage = freshDir('tarball-stage');
  mkdirSync(join(stage, 'usr/bin'), { recursive: true });
  cpSync(await testAgentBinary(), join(stage, 'usr/bin/kata-agent'));
  const tarball = join(scratch, 'kata-agent.tar.zst');
  await $`tar --zstd -cf ${tarball} -C ${stage} .`;
  const root = freshDir('tarball');
  const out = await runRootfs(['-r', root], { AGENT_TARBALL: tarball, AGENT_INIT: 'yes' });
  assert.is(out.exitCode, 0, out.stderr);
  assert.ok(lstatSync(join(root, 'sbin/init')).isFile());
  assert.not.ok(existsSync(join(root, 'usr/bin/kata-agent')));
  assert.not.ok(existsSync(join(root, 'etc/systemd/system/tmp.mount')), 'no tmp.mount without systemd');
});

test('KERNEL_MODULES_DIR copied, -d deletes the unneeded units, SOURCE_DATE_EPOCH makes the summary reproducible', async () => {
  const modules = freshDir('modules/6.1.0-test');
  writeFileSync(join(modules, 'modules.dep'), 'kernel/x.ko:\n');
  const summaries: string[] = [];
  for (const run of ['a', 'b']) {
    const root = freshDir(`full-${run}`);
    const units = join(root, 'usr/lib/systemd/system');
    mkdirSync(units, { recursive: true });
    for (const u of ['systemd-journald.service', 'systemd-udevd.socket', 'systemd-timesyncd.service', 'keep-me.service']) writeFileSync(join(units, u), '');
    mkdirSync(join(root, 'usr/lib/systemd/system-generators'), { recursive: true });
    writeFileSync(join(root, 'usr/lib/systemd/system-generators/systemd-getty-generator'), '');
    const out = await runRootfs(['-d', '-r', root], {
      AGENT_SOURCE_BIN: await testAgentBinary(),
      KERNEL_MODULES_DIR: modules,
      SOURCE_DATE_EPOCH: '1234567890',
      EXTRA_PKGS: 'zz b b',
    });
    assert.is(out.exitCode, 0, out.stderr);
    assert.ok(existsSync(join(root, 'lib/modules/6.1.0-test/modules.dep')));
    for (const u of ['systemd-journald.service', 'systemd-udevd.socket', 'systemd-timesyncd.service']) assert.not.ok(existsSync(join(units, u)), `${u} deleted`);
    assert.not.ok(existsSync(join(root, 'usr/lib/systemd/system-generators/systemd-getty-generator')));
    assert.ok(existsSync(join(units, 'keep-me.service')));
    summaries.push(readFileSync(join(root, 'var/lib/osbuilder/osbuilder.yaml'), 'utf8'));
  }
  assert.is(summaries[0], summaries[1]);
  assert.match(summaries[0]!, /^rootfs-creation-time: "2009-02-13T23:31:30\.000000000\+0000Z"$/m);
  assert.match(summaries[0]!, /    extra:\n      - "b"\n      - "zz"\n/);
});

test.run();

test('the agent and its units replace what is there: a hard link or an absolute symlink in their place changes nothing outside', async () => {
  const root = freshDir('shared-inodes');
  const outside = freshDir('shared-inodes-outside');
  const sentinel = join(outside, 'sentinel');
  writeFileSync(sentinel, 'host file\n');
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  mkdirSync(join(root, 'usr/lib/systemd/system'), { recursive: true });
  // A tree whose agent shares an inode with a file elsewhere (a cache, the host), and whose unit points out.
  await $`ln ${sentinel} ${join(root, 'usr/bin/kata-agent')}`;
  await $`ln -s ${sentinel} ${join(root, 'usr/lib/systemd/system/kata-containers.target')}`;
  const out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary() });
  assert.is(out.exitCode, 0, out.stderr);
  assert.is(readFileSync(sentinel, 'utf8'), 'host file\n');
  assert.is(lstatSync(sentinel).nlink, 1, 'the tree no longer shares the sentinel');
  assert.is(lstatSync(join(root, 'usr/bin/kata-agent')).nlink, 1);
  // The absolute link resolved inside the tree leads nowhere there: the unit is written in its place.
  assert.ok(lstatSync(join(root, 'usr/lib/systemd/system/kata-containers.target')).isFile());
});
