// tier: unit
// rootfs.ts as a user runs it: -l, -h, -t, and bad input that must end in
// one ERROR line, a non-zero exit and an untouched host. Its main() runs in
// this process (runRootfsInProcess); the real process once, for its exit.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { optionName, type SettingSpec } from '../../lib/core/cli.ts';
import { debootstrapSettings } from '../../lib/rootfs/debootstrap.ts';
import { rootfsSettings } from '../../lib/rootfs/settings.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { repoRoot, runRootfs, runRootfsInProcess } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-cli-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('-l lists the distro folders, sorted, one per line', async () => {
  const out = await runRootfsInProcess(['-l']);
  assert.is(out.exitCode, 0);
  const expected = readdirSync(join(repoRoot, 'rootfs')).filter((d) => existsSync(join(repoRoot, 'rootfs', d, 'config.ts'))).sort();
  assert.equal(out.stdout.trim().split('\n'), expected);
  assert.ok(expected.includes('debian') && expected.includes('fedora'));
});

test('-h prints every option and variable of the settings table, exit 0', async () => {
  const out = await runRootfsInProcess(['-h']);
  assert.is(out.exitCode, 0);
  for (const word of ['-a VERSION', '-d', '-l', '-o VERSION', '-r DIR', '-t DISTRO', 'AGENT_INIT', 'AGENT_SOURCE_BIN', 'AGENT_TARBALL',
    'DISTRO_REPO', 'DOCKER_RUNTIME', 'EXTRA_PKGS', 'GRACEFUL_EXIT', 'IMAGE_REGISTRY', 'KERNEL_MODULES_DIR', 'LIBC', 'OS_VERSION',
    'REPO_URL', 'ROOTFS_DIR', 'SECCOMP', 'USE_DOCKER', 'USE_PODMAN', 'SOURCE_DATE_EPOCH', 'DEBIAN_BOOTSTRAP']) {
    assert.ok(out.stdout.includes(word), `help mentions ${word}`);
  }
  assert.match(out.stdout, /Supported DISTRO values: .*debian.*fedora/);
});

test('the README rootfs.ts section documents every option and variable of the table', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## rootfs.ts'), readme.indexOf('## image.ts'));
  for (const spec of [...Object.values(rootfsSettings), ...Object.values(debootstrapSettings)] as SettingSpec<unknown>[]) {
    if (spec.env) assert.ok(section.includes(`\`${spec.env}\``), `README documents ${spec.env}`);
    if (spec.flag) assert.ok(section.includes(`\`${optionName(spec.flag)}`), `README documents ${optionName(spec.flag)}`);
  }
});

test('-t DISTRO prints the test configuration', async () => {
  const out = await runRootfsInProcess(['-t', 'debian']);
  assert.is(out.exitCode, 0);
  assert.is(out.stdout, 'INIT_PROCESS:\t\tsystemd\nARCH_EXCLUDE_LIST:\t\t\n');
});

/** Runs rootfs.ts's main() (the real process with `spawn`) and checks: exit non-zero, exactly one ERROR line matching `pattern`, nothing created. */
async function rejects(args: string[], env: Record<string, string>, pattern: RegExp, spawn = false): Promise<void> {
  const before = readdirSync(scratch).sort();
  const out = await (spawn ? runRootfs : runRootfsInProcess)(args, env);
  assert.is.not(out.exitCode, 0, `exit code of ${args.join(' ')}`);
  const errors = out.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.is(errors.length, 1, out.stderr);
  assert.match(errors[0]!, pattern);
  assert.equal(readdirSync(scratch).sort(), before, 'nothing written');
}

test('bad input: one ERROR line, non-zero exit, nothing written', async () => {
  const agent = await testAgentBinary();
  const dir = join(scratch, 'r');
  const notExec = join(scratch, 'not-exec');
  writeFileSync(notExec, 'x');
  chmodSync(notExec, 0o644);
  const tarball = join(scratch, 'agent.tar.zst');
  writeFileSync(tarball, '');
  await rejects(['-r', dir, 'nosuch'], { AGENT_SOURCE_BIN: agent }, /unknown distro "nosuch": use one of .*debian.*fedora/);
  await rejects(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: agent, AGENT_INIT: 'maybe' }, /AGENT_INIT=maybe is not valid: use yes or no/, true);
  await rejects(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: agent, KERNEL_MODULES_DIR: join(scratch, 'nomods') }, /KERNEL_MODULES_DIR=.* is not an existing directory/);
  await rejects(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: join(scratch, 'missing-agent') }, /AGENT_SOURCE_BIN=.* does not exist/);
  await rejects(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: notExec }, /AGENT_SOURCE_BIN=.* is not an executable file/);
  await rejects(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: agent, AGENT_TARBALL: tarball }, /AGENT_SOURCE_BIN and AGENT_TARBALL are both set/);
  await rejects(['-r', '', 'debian'], { AGENT_SOURCE_BIN: agent }, /-r is empty/);
  await rejects(['-r', '/', 'debian'], { AGENT_SOURCE_BIN: agent }, /refusing to use ROOTFS_DIR \/: it is the host root directory/);
  await rejects(['-r', '/', 'debian'], { AGENT_SOURCE_BIN: agent, ROOTFS_DIR: scratch }, /refusing to use ROOTFS_DIR \//);
  await rejects(['debian'], { AGENT_SOURCE_BIN: agent, ROOTFS_DIR: '/usr' }, /host system directory \/usr/);
  await rejects(['debian'], { AGENT_SOURCE_BIN: agent, ROOTFS_DIR: '/var/lib/../' }, /host system directory \/var/);
  await rejects(['-r', '/etc/kata', 'debian'], { AGENT_SOURCE_BIN: agent }, /inside the host system directory \/etc/);
  await rejects(['-x', 'debian'], {}, /unknown option -x/);
  await rejects(['-r', join(scratch, 'nosuchdir')], { AGENT_SOURCE_BIN: agent }, /Invalid rootfs directory/);
  await rejects(['-r', '/'], { AGENT_SOURCE_BIN: agent }, /refusing to use ROOTFS_DIR \//);
  await rejects(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: agent, DEBIAN_BOOTSTRAP: 'cdebootstrap' }, /DEBIAN_BOOTSTRAP=cdebootstrap is not valid/);
  rmSync(notExec);
  rmSync(tarball);
});

test('a non-empty ROOTFS_DIR is refused before anything is built', async () => {
  const dir = join(scratch, 'busy');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, 'keep'), 'mine');
  const out = await runRootfsInProcess(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: await testAgentBinary() });
  assert.is.not(out.exitCode, 0);
  assert.match(out.stderr, /^ERROR: ROOTFS_DIR .*busy exists and is not empty/m);
  assert.equal(readdirSync(dir), ['keep']);
  rmSync(dir, { recursive: true });
});

test('an unset ROOTFS_DIR means <script dir>/rootfs-<distro> (failing early there leaves nothing)', async () => {
  const out = await runRootfsInProcess(['fedora'], { AGENT_SOURCE_BIN: await testAgentBinary(), PKG_MANAGER: 'false', REPO_URL: 'file:///nonexistent' });
  assert.is.not(out.exitCode, 0);
  assert.not.ok(existsSync(join(repoRoot, 'rootfs-fedora')), 'failed build removed');
  assert.not.ok(readdirSync(repoRoot).some((f) => f.startsWith('.rootfs-fedora.partial')), 'no partial tree left');
});

test.run();
