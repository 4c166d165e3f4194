// Incremental rebuilds for real, with fedora from a local rpm repository
// (dnf, seconds per build): a setup-only change reuses the cached distro
// tree, a distro input reruns the distro stage, an interrupted rebuild leaves
// rootfs, manifest and cache entry as they were, a changed entry is named and rebuilt,
// the limit evicts, and two distros build at once into one cache.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CACHE_MARKER } from '../../lib/core/cache-root.ts';
import { $ } from '../../lib/core/exec.ts';
import { manifestPath } from '../../lib/rootfs/manifest.ts';
import { entriesByUse, treeStats } from '../../lib/rootfs/tree-cache.ts';
import { treeListing as contentListing } from '../../lib/rootfs/tree-listing.ts';
import { rebuiltTestAgentBinary, testAgentBinary } from '../helpers/agent.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { cleanEnv, repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_AGENT_INIT_STAND_INS } from '../helpers/rpm-repo.ts';
import { treeListing } from '../helpers/tree-listing.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-incremental-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const trees = join(scratch, 'trees');
const root = join(scratch, 'fedora_rootfs');
const agent = join(scratch, 'kata-agent');
let env: Record<string, string> = {};

test.before(async () => {
  const repo = await buildRpmRepo(join(scratch, 'rpms'), [
    ...FEDORA_AGENT_INIT_STAND_INS,
    { name: 'incremental-extra', files: { 'usr/share/incremental-extra': 'extra\n' } },
  ]);
  copyFileSync(await testAgentBinary(), agent);
  env = { REPO_URL: `file://${repo}`, AGENT_SOURCE_BIN: agent, AGENT_INIT: 'yes', DISTRO_CACHE_DIR: trees, SOURCE_DATE_EPOCH: '1700000000' };
});

const run = (extraEnv: Record<string, string>, args: string[], dir: string, distro: string) =>
  runRootfs([...args, '-o', 'incremental-test', '-r', dir, distro], { ...env, ...extraEnv });

async function build(extraEnv: Record<string, string> = {}, args: string[] = [], dir = root, distro = 'fedora'): Promise<string> {
  const out = await run(extraEnv, args, dir, distro);
  assert.is(out.exitCode, 0, out.stderr);
  assert.equal(readdirSync(scratch).filter((n) => /\.(partial|old|tmp)-/.test(n)), [], 'no temporaries left');
  return out.stdout;
}

/** Every cache entry matches its record (nothing truncated or half-written). */
function assertEntriesIntact(): void {
  for (const key of entriesByUse({ dir: trees, maxEntries: 99 })) {
    const record = JSON.parse(readFileSync(join(trees, key, 'entry.json'), 'utf8'));
    assert.equal(treeStats(join(trees, key, 'tree')), { paths: record.paths, bytes: record.bytes }, key);
    assert.is(contentListing(join(trees, key, 'tree')), readFileSync(join(trees, key, 'listing'), 'utf8'), key);
  }
}

const ranDistroStage = (out: string) => /^INFO: Installing packages for the rootfs/m.test(out);

/** The agent as the build installs it (stripped). */
async function installed(path: string): Promise<Buffer> {
  await $`strip -o ${path}.stripped ${path}`;
  return readFileSync(`${path}.stripped`);
}

test('first build runs the distro stage and stores its tree in the cache', async () => {
  const out = await build();
  assert.match(out, /^INFO: Building rootfs .*fedora_rootfs: distro stage and setup$/m);
  assert.ok(ranDistroStage(out));
  assert.is(entriesByUse({ dir: trees, maxEntries: 9 }).length, 1);
  assertEntriesIntact();
});

test('a new agent: setup stage only, on the cached tree; the same tree as -f gives from scratch', async () => {
  const before = readFileSync(join(root, 'sbin/init'));
  copyFileSync(await rebuiltTestAgentBinary(), agent);
  const out = await build();
  assert.match(out, /^INFO: Rebuilding rootfs .*fedora_rootfs, setup stage only \(distro tree from the cache\): changed input\(s\): AGENT_SOURCE_BIN$/m);
  assert.not.ok(ranDistroStage(out), 'dnf does not run');
  assert.equal(readFileSync(join(root, 'sbin/init')), await installed(agent));
  assert.not.equal(readFileSync(join(root, 'sbin/init')), before, 'another agent');
  const scratchBuild = join(scratch, 'forced_rootfs');
  const forced = await build({}, ['-f'], scratchBuild);
  assert.ok(ranDistroStage(forced), '-f runs the distro stage');
  assert.equal(await treeListing(root), await treeListing(scratchBuild));
  rmSync(scratchBuild, { recursive: true });
  rmSync(manifestPath(scratchBuild));
});

test('EXTRA_PKGS or OS_VERSION changed: the distro stage reruns, named in INFO; the limit evicts the oldest entry', async () => {
  const before = entriesByUse({ dir: trees, maxEntries: 9 });
  const limit = { DISTRO_CACHE_ENTRIES: '2' };
  const extra = await build({ EXTRA_PKGS: 'incremental-extra', ...limit });
  assert.match(extra, /^INFO: Rebuilding rootfs .*, distro stage and setup: changed input\(s\): EXTRA_PKGS$/m);
  assert.ok(ranDistroStage(extra));
  assert.ok(existsSync(join(root, 'usr/share/incremental-extra')));
  const version = await build({ EXTRA_PKGS: 'incremental-extra', OS_VERSION: '41', ...limit });
  assert.match(version, /^INFO: Rebuilding rootfs .*, distro stage and setup: changed input\(s\): OS_VERSION$/m);
  assert.ok(ranDistroStage(version));
  const after = entriesByUse({ dir: trees, maxEntries: 9 });
  assert.is(after.length, 2, 'DISTRO_CACHE_ENTRIES=2');
  assert.not.ok(after.includes(before[0]!), 'the first entry, least recently used, is evicted');
  assert.match(version, /Evicting the least recently used distro tree/);
  // Back to the first inputs' neighbour: EXTRA_PKGS again is a cache hit.
  const back = await build({ EXTRA_PKGS: 'incremental-extra' });
  assert.match(back, /setup stage only \(distro tree from the cache\): changed input\(s\): OS_VERSION$/m);
  assertEntriesIntact();
});

/** rootfs.ts in the background: SIGINT to its process group (as Ctrl-C) once `line` shows on stdout. */
function interruptAt(line: RegExp, extraEnv: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--import', join(repoRoot, 'node_modules/tsx/dist/loader.mjs'), 'rootfs.ts', '-o', 'incremental-test', '-r', root, 'fedora'], {
    cwd: repoRoot,
    env: { ...cleanEnv(), PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, signalled as a whole as Ctrl-C does
  });
  let stdout = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!sent && line.test(stdout)) {
      sent = true;
      process.kill(-child.pid!, 'SIGINT');
    }
  });
  child.stderr.resume();
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

test('SIGINT during a setup-only rebuild: rootfs, manifest and cache entry intact; a truncated entry is ignored and rebuilt', async () => {
  // Many module files make the setup long enough to be interrupted in it.
  const modules = join(scratch, '6.1.0-test');
  await $`mkdir -p ${modules}/kernel && cd ${modules}/kernel && seq 1 20000 | xargs touch`;
  const agentBefore = readFileSync(join(root, 'sbin/init'));
  const manifestBefore = readFileSync(manifestPath(root), 'utf8');
  const entries = entriesByUse({ dir: trees, maxEntries: 9 });
  const interrupted = await interruptAt(/Copy kernel modules from/, { EXTRA_PKGS: 'incremental-extra', KERNEL_MODULES_DIR: modules });
  assert.match(interrupted.stdout, /setup stage only \(distro tree from the cache\): changed input\(s\): KERNEL_MODULES_DIR$/m);
  assert.is(interrupted.code, 130, interrupted.stdout);
  assert.equal(readFileSync(join(root, 'sbin/init')), agentBefore);
  assert.not.ok(existsSync(join(root, 'lib/modules/6.1.0-test')), 'the old rootfs, not a half-made one');
  assert.is(readFileSync(manifestPath(root), 'utf8'), manifestBefore);
  assert.equal(readdirSync(scratch).filter((n) => /\.(partial|old|tmp)-/.test(n)), [], 'no temporaries left');
  assert.equal(entriesByUse({ dir: trees, maxEntries: 9 }).sort(), [...entries].sort());
  assertEntriesIntact();

  // Change the entry in use without changing any size (an edit of the same length, a chmod 4755):
  // the next build names the first change, reruns the distro stage and stores a good entry.
  const key = entriesByUse({ dir: trees, maxEntries: 9 })[0]!;
  writeFileSync(join(trees, key, 'tree/usr/share/incremental-extra'), 'EXTRA\n');
  chmodSync(join(trees, key, 'tree/usr/sbin/iptables'), 0o4755);
  const out = await run({ EXTRA_PKGS: 'incremental-extra', KERNEL_MODULES_DIR: modules }, [], root, 'fedora');
  assert.is(out.exitCode, 0, out.stderr);
  assert.match(out.stderr, /^WARNING: Not using the cached distro tree .*: its tree changed since it was stored: first at usr\/sbin\/iptables \(type mode owner size: f \d+ 0:0 \d+ -> f 4755 0:0 \d+\); it is dropped and the distro stage runs again$/m);
  assert.ok(ranDistroStage(out.stdout));
  assert.is(readFileSync(join(root, 'usr/share/incremental-extra'), 'utf8'), 'extra\n');
  assert.is(statSync(join(root, 'usr/sbin/iptables')).mode & 0o7000, 0, 'no setuid bit in the new rootfs');
  assert.ok(existsSync(join(root, 'lib/modules/6.1.0-test')));
  assert.ok(entriesByUse({ dir: trees, maxEntries: 9 }).includes(key), 'stored again');
  assertEntriesIntact();
});

test('two distros built at once share the cache; both then rebuild setup-only', async () => {
  const shared = { DISTRO_CACHE_DIR: join(scratch, 'shared-trees'), DISTRO_CACHE_ENTRIES: '2' };
  const dirs = { fedora: join(scratch, 'c_fedora'), centos: join(scratch, 'c_centos') };
  // Both run to the end before anything is asserted.
  const both = async () => {
    const outs = await Promise.all((['fedora', 'centos'] as const).map((d) => run(shared, [], dirs[d], d)));
    for (const out of outs) assert.is(out.exitCode, 0, out.stderr);
    return outs.map((o) => o.stdout);
  };
  const first = await both();
  for (const out of first) assert.ok(ranDistroStage(out), out);
  const keys = entriesByUse({ dir: shared.DISTRO_CACHE_DIR, maxEntries: 9 });
  assert.is(keys.length, 2);
  assert.equal(readdirSync(shared.DISTRO_CACHE_DIR).filter((n) => n !== CACHE_MARKER).sort(), [...keys].sort(), 'no temporaries left in the cache');
  copyFileSync(await testAgentBinary(), agent);
  const second = await both();
  for (const out of second) {
    assert.match(out, /setup stage only \(distro tree from the cache\): changed input\(s\): AGENT_SOURCE_BIN$/m);
    assert.not.ok(ranDistroStage(out));
  }
  for (const d of Object.values(dirs)) assert.equal(readFileSync(join(d, 'sbin/init')), await installed(agent));
});

test('a cache dir that cannot be written: a WARNING, and the build goes on', async () => {
  writeFileSync(join(scratch, 'a-file'), '');
  const out = await run({ DISTRO_CACHE_DIR: join(scratch, 'a-file/trees') }, [], join(scratch, 'nocache_rootfs'), 'fedora');
  assert.is(out.exitCode, 0, out.stderr);
  assert.match(out.stderr, /^WARNING: could not keep the distro tree in .*a-file\/trees \(.*\): the build goes on/m);
  assert.equal(readFileSync(join(scratch, 'nocache_rootfs/sbin/init')), await installed(agent));
});

test.run();
