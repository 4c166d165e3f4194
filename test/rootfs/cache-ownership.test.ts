// DISTRO_CACHE_DIR and PACKAGE_CACHE_DIR only ever touch what the builder
// made: real fedora builds from a local rpm repository (seconds each) into a
// dir of someone else's files (refused, untouched) and into a cache of ours
// with such files added (left alone under eviction pressure, named once);
// /, $HOME and the project's parent refused by name before any work; the
// package cache drops only packages it put there and never leaves its dir.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CACHE_MARKER } from '../../lib/core/cache-root.ts';
import { dropSupersededPackages, packageCacheBase, packageCacheDir } from '../../lib/rootfs/package-cache.ts';
import { entriesByUse } from '../../lib/rootfs/tree-cache.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { isBuildError } from '../helpers/errors.ts';
import { plan } from '../helpers/plan-run.ts';
import { repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_AGENT_INIT_STAND_INS } from '../helpers/rpm-repo.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-cache-ownership-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

let env: Record<string, string> = {};
const THEIRS = ['etc/passwd', 'home/x/notes', 'var/lib/db/data'];

test.before(async () => {
  const repo = await buildRpmRepo(join(scratch, 'rpms'), [
    ...FEDORA_AGENT_INIT_STAND_INS,
    { name: 'extra-one', files: { 'usr/share/extra-one': '1\n' } },
    { name: 'extra-two', files: { 'usr/share/extra-two': '2\n' } },
  ]);
  env = { REPO_URL: `file://${repo}`, AGENT_SOURCE_BIN: await testAgentBinary(), AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: '1700000000' };
});

/** Someone else's files under `dir`. */
function plant(dir: string): void {
  for (const f of THEIRS) {
    mkdirSync(join(dir, dirname(f)), { recursive: true });
    writeFileSync(join(dir, f), `${f}\n`);
  }
}

function assertUntouched(dir: string): void {
  for (const f of THEIRS) assert.is(readFileSync(join(dir, f), 'utf8'), `${f}\n`, f);
}

let n = 0;
const build = (extraEnv: Record<string, string>) => runRootfs(['-r', join(scratch, `rootfs-${n++}`), 'fedora'], { ...env, ...extraEnv });

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ERROR:'));

test("DISTRO_CACHE_DIR holding etc, home/x, var/lib/db: two builds with DISTRO_CACHE_ENTRIES=1 refuse it and leave all three", async () => {
  const dir = join(scratch, 'their-dir');
  plant(dir);
  for (const extra of ['extra-one', 'extra-two']) {
    const rootfs = join(scratch, `refused-${extra}`);
    const out = await runRootfs(['-r', rootfs, 'fedora'], { ...env, DISTRO_CACHE_DIR: dir, DISTRO_CACHE_ENTRIES: '1', EXTRA_PKGS: extra });
    assert.is(out.exitCode, 1, out.stdout);
    assert.equal(errorLines(out.stderr), [
      `ERROR: DISTRO_CACHE_DIR=${dir} is not empty and was not made by osbuilder-ts (no ${CACHE_MARKER}; it holds etc, home, var): set DISTRO_CACHE_DIR to an empty or new directory of its own, or to no`,
    ]);
    assert.not.ok(existsSync(rootfs), 'refused before any work');
  }
  assertUntouched(dir);
  assert.equal(readdirSync(dir).sort(), ['etc', 'home', 'var']);
});

test('a cache of ours with etc, home/x, var/lib/db added: builds evict entries (DISTRO_CACHE_ENTRIES=1) and leave those, named once', async () => {
  const dir = join(scratch, 'our-cache');
  const first = await build({ DISTRO_CACHE_DIR: dir, DISTRO_CACHE_ENTRIES: '1' });
  assert.is(first.exitCode, 0, first.stderr);
  assert.ok(existsSync(join(dir, CACHE_MARKER)), 'the builder marks the dir it makes');
  const [firstKey] = entriesByUse({ dir, maxEntries: 9 });
  plant(dir);
  for (const extra of ['extra-one', 'extra-two']) {
    const out = await build({ DISTRO_CACHE_DIR: dir, DISTRO_CACHE_ENTRIES: '1', EXTRA_PKGS: extra });
    assert.is(out.exitCode, 0, out.stderr);
    assert.match(out.stdout, /Evicting the least recently used distro tree/);
    assert.equal(out.stderr.split('\n').filter((l) => l.startsWith('WARNING:')), [
      `WARNING: DISTRO_CACHE_DIR=${dir} holds files osbuilder-ts did not make, left alone: etc, home, var`,
    ]);
  }
  assertUntouched(dir);
  const entries = entriesByUse({ dir, maxEntries: 9 });
  assert.is(entries.length, 1);
  assert.is.not(entries[0], firstKey);
  assert.equal(readdirSync(dir).sort(), [CACHE_MARKER, entries[0]!, 'etc', 'home', 'var'].sort());
});

// DISTRO_CACHE_DIR=/ and system dirs are refused in tree-cache.test.ts without a build: a build is
// only pointed at a temporary $HOME here, so that a broken check could never reach the host's dirs.
test('DISTRO_CACHE_DIR=$HOME, PACKAGE_CACHE_DIR=/ or $HOME or a dir of their files: one ERROR by name, before any work', async () => {
  const home = join(scratch, 'home');
  plant(home);
  const refuse = /^ERROR: refusing (DISTRO|PACKAGE)_CACHE_DIR=\S+: it is (the host root directory \/|the home directory \S+|the host system directory \/var); set \1_CACHE_DIR to an empty or new directory of its own, or to no$/;
  for (const value of [home, `${home}/`]) {
    const rootfs = join(scratch, `refused-${n++}`);
    const out = await runRootfs(['-r', rootfs, 'fedora'], { ...env, HOME: home, DISTRO_CACHE_DIR: value });
    assert.is(out.exitCode, 1, out.stdout);
    const errors = errorLines(out.stderr);
    assert.is(errors.length, 1, out.stderr);
    assert.match(errors[0]!, refuse);
    assert.ok(errors[0]!.includes(`DISTRO_CACHE_DIR=${value}:`));
    assert.not.ok(existsSync(rootfs));
    assert.equal(readdirSync(home).sort(), ['etc', 'home', 'var'], 'no marker, no entry written');
  }
  // Debian's distro stage uses PACKAGE_CACHE_DIR: its plan shows the refusal before the bootstrap.
  for (const value of ['/', home]) {
    const p = await plan('debian', { ARCH: 'x86_64', HOME: home, PACKAGE_CACHE_DIR: value });
    assert.is(p.exitCode, 1, p.stdout);
    assert.equal(errorLines(p.stderr).length, 1, p.stderr);
    assert.match(errorLines(p.stderr)[0]!, refuse);
    assert.not.ok(p.commands.some((c) => c.startsWith('mmdebstrap')), 'refused before mmdebstrap');
  }
  const theirs = join(scratch, 'their-packages');
  plant(theirs);
  const p = await plan('debian', { ARCH: 'x86_64', PACKAGE_CACHE_DIR: theirs });
  assert.equal(errorLines(p.stderr), [
    `ERROR: PACKAGE_CACHE_DIR=${theirs} is not empty and was not made by osbuilder-ts (no ${CACHE_MARKER}; it holds etc, home, var): set PACKAGE_CACHE_DIR to an empty or new directory of its own, or to no`,
  ]);
  assertUntouched(home);
  assertUntouched(theirs);
  assert.throws(() => packageCacheBase(dirname(repoRoot.replace(/\/$/, ''))), isBuildError(/it contains the project checkout/));
});

test('the package cache dir of a key never leaves PACKAGE_CACHE_DIR (OS_VERSION with .. or /)', () => {
  const base = join(scratch, 'pkgs');
  assert.is(packageCacheDir(base, 'debian-bookworm-amd64-mmdebstrap'), join(base, 'debian-bookworm-amd64-mmdebstrap'));
  for (const key of ['debian-../../../etc-amd64-mmdebstrap', 'debian-bookworm/../../x-amd64-debootstrap', '../x-mmdebstrap', 'debian-a/b-amd64-mmdebstrap', '..', '.', '']) {
    assert.throws(() => packageCacheDir(base, key), isBuildError(/would not be a directory of its own in PACKAGE_CACHE_DIR=.*: OS_VERSION and ARCH must be names/), key);
  }
  assert.not.ok(existsSync(base), 'nothing created');
});

/** A dpkg status file of installed packages. */
function status(path: string, packages: Record<string, string>): string {
  writeFileSync(path, Object.entries(packages).map(([name, v]) => `Package: ${name}\nStatus: install ok installed\nVersion: ${v}\n`).join('\n'));
  return path;
}

test('PACKAGE_CACHE_DIR: only packages the builder put there are dropped; foreign files are left alone and named once', async () => {
  const base = join(scratch, 'packages');
  const key = join(base, 'debian-bookworm-amd64-mmdebstrap');
  mkdirSync(key, { recursive: true });
  // A key dir the builder made (no record yet): its .deb files are its own.
  for (const f of ['systemd_252.1_amd64.deb', 'systemd_252.2_amd64.deb', 'libc6_2.36_amd64.deb']) writeFileSync(join(key, f), f);
  const st = status(join(scratch, 'status'), { systemd: '252.2', libc6: '2.36' });
  dropSupersededPackages(key, st);
  assert.equal(readdirSync(key).sort(), ['libc6_2.36_amd64.deb', 'systemd_252.2_amd64.deb']);
  assert.ok(existsSync(join(base, CACHE_MARKER)));
  assert.is(readFileSync(join(base, '.debian-bookworm-amd64-mmdebstrap.debs'), 'utf8'), 'libc6_2.36_amd64.deb\nsystemd_252.2_amd64.deb\n');

  // Someone adds files, one named like a superseded package; the next build supersedes systemd and libc6.
  const foreign = ['systemd_251.0_amd64.deb', 'notes.txt', 'libc6_2.35_amd64.deb'];
  for (const f of foreign) writeFileSync(join(key, f), 'not the builder\'s');
  mkdirSync(join(base, 'their-dir'));
  writeFileSync(join(base, 'their-dir/keep'), 'theirs');
  writeFileSync(join(key, 'systemd_252.3_amd64.deb'), 'downloaded by this build');
  status(st, { systemd: '252.3', libc6: '2.36' });
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    assert.is(packageCacheBase(base), base, 'a marked dir is used though it holds foreign files');
    dropSupersededPackages(key, st);
    dropSupersededPackages(key, st);
  } finally {
    process.stderr.write = write;
  }
  assert.equal(readdirSync(key).sort(), ['libc6_2.35_amd64.deb', 'libc6_2.36_amd64.deb', 'notes.txt', 'systemd_251.0_amd64.deb', 'systemd_252.3_amd64.deb']);
  assert.is(readFileSync(join(base, 'their-dir/keep'), 'utf8'), 'theirs');
  assert.equal(stderr.split('\n').filter(Boolean), [
    `WARNING: PACKAGE_CACHE_DIR=${base} holds files osbuilder-ts did not make, left alone: their-dir`,
    `WARNING: PACKAGE_CACHE_DIR: ${key} holds files osbuilder-ts did not put there, left alone: libc6_2.35_amd64.deb, notes.txt, systemd_251.0_amd64.deb`,
  ]);
});

test.run();
