// The AGENT_INIT=no tree built over the AGENT_INIT=yes tree, for real with
// mmdebstrap: an AGENT_INIT=yes build leaves its tree in the distro-tree
// cache, an AGENT_INIT=no build of the same inputs installs init over it
// (one bootstrap for both), and that tree is the one a build without any
// cache makes, file for file; the reverse order shares the same way.
// The second test takes the first's trees.
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { firstDifference, treeListing } from '../../lib/rootfs/tree-listing.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { $ } from '../../lib/core/exec.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { cleanEnv, repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-init-layer-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const trees = join(scratch, 'trees');
const otherTrees = join(scratch, 'other-trees');
const build = async (name: string, agentInit: 'yes' | 'no', cache = trees) => {
  const out = await runRootfs(['-r', join(scratch, name), 'debian'], {
    AGENT_SOURCE_BIN: await testAgentBinary(), AGENT_INIT: agentInit, SOURCE_DATE_EPOCH: '1700000000', DISTRO_CACHE_DIR: cache,
  });
  assert.is(out.exitCode, 0, `${out.stdout}\n${out.stderr}`);
  return `${out.stdout}\n${out.stderr}`; // INFO lines, then the steps' [OK] lines
};
const entries = () => readdirSync(trees).filter((n) => /^[0-9a-f]{32}$/.test(n));
const installed = (root: string) => readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8').match(/^Package: .*$/gm)!.map((l) => l.slice(9));
const bootstraps = (stdout: string) => stdout.match(/^\[OK\] mmdebstrap bookworm \(.*$/gm) ?? [];

test('AGENT_INIT=yes first: its tree is cached; AGENT_INIT=no installs init over it, equal to a build with an empty cache', async () => {
  const yes = await build('yes', 'yes');
  assert.is(bootstraps(yes).length, 1, yes);
  assert.not.match(yes, /over the AGENT_INIT=yes tree/);
  assert.is(entries().length, 1);

  const no = await build('no', 'no');
  assert.match(no, /^INFO: The AGENT_INIT=yes tree came from the distro-tree cache: installing init over it$/m);
  assert.equal(bootstraps(no).map((l) => l.replace(/ \([\d.]+ s\)$/, '')), ['[OK] mmdebstrap bookworm (init over the AGENT_INIT=yes tree)'], no);
  assert.is(entries().length, 2, 'the AGENT_INIT=no tree is cached beside the layer');

  const fresh = await build('fresh', 'no', otherTrees);
  assert.match(fresh, /^INFO: Building the AGENT_INIT=yes tree first \(chrony iptables dbus cryptsetup-bin e2fsprogs libseccomp2 kmod\), then init over it/m);
  assert.is(bootstraps(fresh).length, 2, fresh);
  // The same tree whichever way the layer came: paths, types, modes, owners, sizes, link targets and every file's sha256.
  const [a, b] = [join(scratch, 'no'), join(scratch, 'fresh')];
  const diff = firstDifference(treeListing(a), treeListing(b));
  assert.is(diff, undefined, `the trees differ at ${diff}`);

  // What init brings, and nothing of the bootstrap in between.
  // What init brings: the two cached distro-stage trees still hold dpkg's status (the setup removes var/lib).
  const [layerPkgs, basePkgs] = entries().map((key) => installed(join(trees, key, 'tree'))).sort((x, y) => x.length - y.length);
  assert.ok(layerPkgs!.every((p) => basePkgs!.includes(p)), 'every package of the layer is in the tree built over it');
  const added = basePkgs!.filter((p) => !layerPkgs!.includes(p));
  assert.ok(['init', 'systemd-sysv', 'systemd'].every((p) => added.includes(p)), added.join(' '));
  assert.not.ok(existsSync(join(scratch, 'yes/usr/lib/systemd/systemd')), 'no systemd in the AGENT_INIT=yes tree');
  assert.is(readlinkSync(join(a, 'sbin/init')), '/lib/systemd/systemd');
  for (const link of ['lib32', 'libx32', 'usr/lib32']) assert.not.ok(existsSync(join(a, link)) || lstatSync(join(a, link), { throwIfNoEntry: false }), `no ${link} (the tree was merged already)`);
  assert.equal(readdirSync(join(a, 'dev')).sort(), ['.osbuilder-device-nodes', 'fd', 'stderr', 'stdin', 'stdout']);
  assert.not.ok(existsSync(join(a, 'usr/share/doc/systemd')), 'documentation removed after the second install too');
  assert.is(readFileSync(join(a, 'etc/machine-id'), 'utf8'), '', "mmdebstrap's cleanup ran after the second install");
  // The layer's working copies are gone, on the disk and in RAM.
  assert.equal(readdirSync(scratch).filter((n) => n.includes('layer')), []);
  assert.equal(readdirSync('/dev/shm').filter((n) => /^osbuilder-rootfs-\d+-layer$/.test(n)), []);
});

test('AGENT_INIT=no first: the AGENT_INIT=yes tree it was built over serves an AGENT_INIT=yes build, no bootstrap', async () => {
  // The cache the first test's AGENT_INIT=no build started empty.
  const yes = await build('yes2', 'yes', otherTrees);
  assert.match(yes, /^INFO: Building rootfs .*yes2: setup stage only \(distro tree from the cache\)$/m);
  assert.is(bootstraps(yes).length, 0, yes);
  const diff = firstDifference(treeListing(join(scratch, 'yes2')), treeListing(join(scratch, 'yes')));
  assert.is(diff, undefined, `the AGENT_INIT=yes trees differ at ${diff}`);
});

test('SIGINT while init goes in over the layer: exit 130, no stage, no layer copy, no cache temporary; the next build completes', async () => {
  const cache = join(scratch, 'interrupted-trees');
  const dest = join(scratch, 'interrupted');
  const inShm = () => readdirSync('/dev/shm').filter((n) => n.startsWith('osbuilder-rootfs-'));
  const before = inShm();
  // Through the launcher, as make runs it: the signal reaches rootfs.ts itself (tsx's relay kills a child busy hashing).
  const run = $({ cwd: repoRoot, env: { ...cleanEnv(), PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), AGENT_SOURCE_BIN: await testAgentBinary(), DISTRO_CACHE_DIR: cache }, nothrow: true })`node scripts/launch.mjs rootfs.ts -r ${dest} debian`;
  const started = Date.now();
  // The second step has begun when the stage beside the layer is no longer empty (mmdebstrap's setup wrote it).
  const overRunning = () => inShm().some((n) => !before.includes(n) && n.endsWith('-layer') && readdirSync(join('/dev/shm', n.slice(0, -'-layer'.length)), { withFileTypes: true }).length > 0);
  while (!overRunning() && Date.now() - started < 120_000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(overRunning(), 'the install over the layer started');
  run.kill('SIGINT');
  const r = await run;
  assert.is(r.exitCode, 130, r.stderr);
  assert.equal(inShm().filter((n) => !before.includes(n)), [], `the RAM stage and the layer copy removed:\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`);
  assert.equal(readdirSync(scratch).filter((n) => n.startsWith('.interrupted')), [], 'no disk stage');
  assert.not.ok(existsSync(dest));
  assert.equal(readdirSync(cache).filter((n) => n.startsWith('.tmp-') || n.startsWith('.evict-')), [], 'no cache temporary');
  const again = await runRootfs(['-r', dest, 'debian'], { AGENT_SOURCE_BIN: await testAgentBinary(), DISTRO_CACHE_DIR: cache });
  assert.is(again.exitCode, 0, again.stderr);
  assert.is(readlinkSync(join(dest, 'sbin/init')), '/lib/systemd/systemd');
});

test.run();
