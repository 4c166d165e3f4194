// Where a rootfs build happens (BUILD_IN_RAM) and where its packages are kept
// (PACKAGE_CACHE_DIR): the pure checks, then a build staged in RAM for real.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { mountTable } from '../../lib/core/fs-checks.ts';
import { installedVersions, packageCacheDir, supersededDebs } from '../../lib/rootfs/package-cache.ts';
import { userCacheDir } from '../../lib/core/user-cache.ts';
import { RAM_DIR } from '../../lib/core/safe-paths.ts';
import { processAlive, tempOwner } from '../../lib/core/stale-temps.ts';
import { mountOptionsOf, ramStagingParent, ramUnusableReason } from '../../lib/rootfs/ram-staging.ts';
import { unsafeRootfsReason } from '../../lib/core/safe-paths.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { isBuildError } from '../helpers/errors.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_STAND_INS } from '../helpers/rpm-repo.ts';

test('mount options of a mount point, the last mount winning', () => {
  const mounts = [
    'tmpfs /dev/shm tmpfs rw,nosuid,nodev,inode64 0 0',
    '/dev/vda / ext4 rw,relatime 0 0',
    'tmpfs /dev/shm tmpfs rw,relatime,size=100k 0 0',
  ].join('\n');
  assert.equal(mountOptionsOf('/dev/shm', mountTable(mounts)), ['rw', 'relatime', 'size=100k']);
  assert.equal(mountOptionsOf('/', mountTable(mounts)), ['rw', 'relatime']);
  assert.is(mountOptionsOf('/nowhere', mountTable(mounts)), undefined);
});

test('RAM staging: refused off tmpfs, with yes an ERROR, with auto a fall-back, with no not even checked', () => {
  const disk = mkdtempSync('/var/tmp/ram-staging-');
  try {
    assert.match(ramUnusableReason(disk)!, /is not a tmpfs/);
    assert.match(ramUnusableReason('/does/not/exist')!, /does not exist/);
    assert.is(ramStagingParent('auto', disk), undefined);
    assert.is(ramStagingParent('no', disk), undefined);
    assert.throws(() => ramStagingParent('yes', disk), isBuildError(/^BUILD_IN_RAM=yes but .* is not a tmpfs: set BUILD_IN_RAM=auto/));
  } finally {
    rmSync(disk, { recursive: true });
  }
});

test('RAM staging on this host: /dev/shm is usable, and a directory in it is scratch space, /dev/shm itself is not', () => {
  assert.is(ramUnusableReason(), undefined, 'this machine has a 2 GiB+ tmpfs /dev/shm without nodev');
  assert.is(ramStagingParent('yes'), RAM_DIR);
  assert.is(unsafeRootfsReason(`${RAM_DIR}/osbuilder-rootfs-1`), undefined);
  assert.match(unsafeRootfsReason(RAM_DIR)!, /inside the host system directory \/dev/);
  assert.match(unsafeRootfsReason('/dev/pts')!, /inside the host system directory \/dev/);
});

test('PACKAGE_CACHE_DIR: default under XDG_CACHE_HOME, one dir per key, no turns it off, bad paths refused', () => {
  assert.is(userCacheDir({ XDG_CACHE_HOME: '/c', HOME: '/h' }), '/c/osbuilder-ts');
  assert.is(packageCacheDir('', 'debian-bookworm-amd64', { XDG_CACHE_HOME: '/c' }), '/c/osbuilder-ts/packages/debian-bookworm-amd64');
  assert.is(packageCacheDir('/srv/pkgs', 'k'), '/srv/pkgs/k');
  assert.is(packageCacheDir('no', 'k'), undefined);
  assert.throws(() => packageCacheDir('pkgs', 'k'), isBuildError(/not an absolute path/));
  assert.throws(() => packageCacheDir('/srv/my pkgs', 'k'), isBuildError(/characters a hook command cannot take/));
});

test('the cache drops the packages a build installed in another version, and only those', () => {
  const status = [
    'Package: systemd\nStatus: install ok installed\nVersion: 252.38-1~deb12u1',
    'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u10',
    'Package: tzdata\nStatus: deinstall ok config-files\nVersion: 2024a-0+deb12u1',
    'Package: base-passwd\nStatus: install ok installed\nVersion: 1:3.6.1',
  ].join('\n\n');
  const installed = installedVersions(status);
  assert.equal([...installed], [['systemd', '252.38-1~deb12u1'], ['libc6', '2.36-9+deb12u10'], ['base-passwd', '1:3.6.1']]);
  const files = [
    'systemd_252.38-1~deb12u1_amd64.deb', 'systemd_252.36-1~deb12u1_amd64.deb', 'libc6_2.36-9+deb12u10_amd64.deb',
    'libc6_2.36-9+deb12u9_amd64.deb', 'tzdata_2023c-5_all.deb', 'base-passwd_1%3a3.6.1_amd64.deb', 'base-passwd_1%3a3.6.0_amd64.deb', 'lock', 'partial',
  ];
  assert.equal(supersededDebs(files, installed), ['systemd_252.36-1~deb12u1_amd64.deb', 'libc6_2.36-9+deb12u9_amd64.deb', 'base-passwd_1%3a3.6.0_amd64.deb']);
});

const scratch = mkdtempSync('/var/tmp/osbuilder-staging-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const ramStages = () => readdirSync(RAM_DIR).filter((n) => n.startsWith('osbuilder-rootfs-'));
/** Stages of dead processes: a build running beside the tests (its PID alive) owns its own. */
const leftStages = () => ramStages().filter((n) => !processAlive(tempOwner(n, 'osbuilder-rootfs-') ?? 0));
const listing = async (root: string) => (await $`cd ${root} && find . -printf '%p %y %m %u %g %s %l\n' | sort`).stdout;

test('a build in RAM gives the same tree as one on the disk, and leaves nothing in /dev/shm or beside ROOTFS_DIR', async () => {
  const repo = await buildRpmRepo(join(scratch, 'rpms'), FEDORA_STAND_INS);
  const env = { REPO_URL: `file://${repo}`, AGENT_SOURCE_BIN: await testAgentBinary(), SOURCE_DATE_EPOCH: '1700000000' };
  // A stage left by a run that was killed outright (its PID no longer runs) is swept.
  const dead = (await $`sh -c 'echo $$'`).stdout.trim();
  const stale = join(RAM_DIR, `osbuilder-rootfs-${dead}`);
  mkdirSync(join(stale, 'usr'), { recursive: true });
  // And the AGENT_INIT=yes tree such a run was building beside its stage (lib/rootfs/init-layer.ts).
  mkdirSync(join(`${stale}-layer`, 'usr'), { recursive: true });
  const trees: string[] = [];
  for (const mode of ['yes', 'no']) {
    const parent = join(scratch, `in-ram-${mode}`);
    mkdirSync(parent);
    const out = await runRootfs(['-r', join(parent, 'rootfs'), 'fedora'], { ...env, BUILD_IN_RAM: mode });
    assert.is(out.exitCode, 0, out.stderr);
    assert.is(/Copying the tree from RAM to /.test(out.stdout), mode === 'yes', out.stdout);
    assert.equal(readdirSync(parent).sort(), ['.rootfs.manifest.json', 'rootfs']);
    trees.push(await listing(join(parent, 'rootfs')));
  }
  assert.ok(trees[0]!.includes('./usr/bin/kata-agent f 755 root root'), trees[0]);
  assert.fixture(trees[0]!, trees[1]!);
  assert.equal(leftStages(), [], `${stale} and ${stale}-layer swept, nothing else left`);
});

test('SIGINT during a build in RAM: exit 130, the RAM and disk stages removed, no ROOTFS_DIR', async () => {
  const repo = join(scratch, 'rpms/repo');
  const parent = join(scratch, 'interrupted');
  mkdirSync(parent);
  const stagesBefore = ramStages();
  const run = runRootfs(['-r', join(parent, 'interrupted_rootfs'), 'fedora'], { REPO_URL: `file://${repo}`, AGENT_SOURCE_BIN: await testAgentBinary(), BUILD_IN_RAM: 'yes' });
  const started = Date.now();
  const isNew = (n: string) => !stagesBefore.includes(n);
  while (!ramStages().some(isNew) && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 10));
  const ours = ramStages().filter(isNew);
  assert.ok(ours.length, 'the build started in RAM');
  run.kill('SIGINT');
  const r = await run;
  assert.is(r.exitCode, 130, r.stderr);
  assert.match(r.stderr, /ERROR: interrupted by SIGINT/);
  // Only this run's stage is compared: another build's (a dead one it swept, a concurrent one) may come and go meanwhile.
  assert.equal(ramStages().filter((n) => ours.includes(n)), [], 'its RAM stage removed');
  assert.equal(readdirSync(parent), []);
});

test.run();
