// The hostile-archive corpus (test/helpers/tar-corpus.ts) through every
// tarball variable, into trees whose var/run -> /run and var/out -> a
// sentinel directory: each refusal is one ERROR naming the variable and the
// entry with the tree untouched, each accepted archive lands inside the tree,
// and nothing outside it changes (the sentinel and the host's /run compared
// before and after); the same into hard-linked copies of a real Debian tree.
// Then a real `rootfs.ts` run with AGENT_TARBALL.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { BuildError } from '../../lib/core/log.ts';
import { treeHash } from '../../lib/rootfs/cache.ts';
import { tarCompression } from '../../lib/rootfs/tar-read.ts';
import { unpackTarball } from '../../lib/rootfs/tar-unpack.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { debianRootfs, runRootfs } from '../helpers/rootfs-fixture.ts';
import { inodeStamp } from '../helpers/dir-snapshot.ts';
import { CORPUS, MARK, type CorpusCase } from '../helpers/tar-corpus.ts';
import { makeTar } from '../helpers/tar-writer.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-tar-corpus-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const outside = join(scratch, 'outside');
mkdirSync(outside);
writeFileSync(join(outside, 'secret'), 'host file\n');
let serial = 0;

/** A small tree with Debian's var/run -> /run, a merged-usr lib link and var/out -> the sentinel (an absolute host path). */
export function hostileTree(): string {
  const root = join(scratch, `root-${++serial}`);
  for (const d of ['usr/lib', 'usr/bin', 'var/lib', 'etc', 'run', 'dev']) mkdirSync(join(root, d), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('/run', join(root, 'var/run'));
  symlinkSync(outside, join(root, 'var/out'));
  writeFileSync(join(root, 'etc/hostname'), 'guest\n');
  return root;
}

/** What must never change: the sentinel, and whether the host's /run has anything with MARK in its name. */
async function outsideState(): Promise<string> {
  const sentinel = (await $`find ${outside} -printf '%p %y %m %s %T@ %l\n'`).stdout;
  const run = (await $`find /run -xdev -name ${`*${MARK}*`}`.nothrow()).stdout;
  return `${sentinel}\n/run: ${run}`;
}

const VARIABLES = ['AGENT_TARBALL', 'GUEST_HOOKS_TARBALL', 'PAUSE_IMAGE_TARBALL', 'COCO_GUEST_COMPONENTS_TARBALL'];

/**
 * Unpack corpus case c into root through variable: a refusal must be one
 * BuildError line naming the variable, the archive and why, with nothing
 * unpacked; an accepted archive lands inside the tree and leaves no spool.
 */
async function unpackCase(c: CorpusCase, root: string, variable: string, path: string): Promise<'refused' | 'unpacked'> {
  let error: string | undefined;
  try {
    await unpackTarball(root, { variable, path, compression: tarCompression(path, variable) });
  } catch (e) {
    if (!(e instanceof BuildError)) throw new Error(`${c.what} (${variable}): not a clean refusal: ${(e as Error).stack}`);
    error = e.message;
  }
  assert.not.ok(readdirSync(root).some((n) => n.startsWith('.osbuilder-')), `${c.what} (${variable}): no spool or temporary left`);
  if (!c.refused) {
    assert.is(error, undefined, `${c.what} (${variable})`);
    for (const rel of c.lands!(outside)) assert.ok(lstatSync(join(root, rel), { throwIfNoEntry: false }), `${c.what} (${variable}): ${rel} in the tree`);
    return 'unpacked';
  }
  assert.ok(error, `${c.what} (${variable}): refused`);
  assert.not.match(error!, /\n/, 'one line');
  assert.ok(error!.startsWith(`${variable}=${path}`), error);
  assert.match(error!, c.refused, `${c.what} (${variable})`);
  assert.match(error!, /nothing was unpacked/);
  return 'refused';
}

test('every corpus case, through every tarball variable: refused by name, or unpacked inside; nothing outside changes', async () => {
  const before = await outsideState();
  const counts = { refused: 0, unpacked: 0 };
  for (const [i, c] of CORPUS.entries()) {
    const path = join(scratch, `case-${i}.tar`);
    writeFileSync(path, c.archive(outside));
    for (const variable of VARIABLES) {
      const root = hostileTree();
      const tree = treeHash(root);
      const outcome = await unpackCase(c, root, variable, path);
      if (outcome === 'refused') assert.is(treeHash(root), tree, `${c.what}: the tree is untouched`);
      counts[outcome]++;
      rmSync(root, { recursive: true, force: true });
    }
  }
  assert.is(await outsideState(), before, 'nothing outside the trees changed');
  console.log(`  corpus: ${CORPUS.length} archives x ${VARIABLES.length} variables: ${counts.refused} refused, ${counts.unpacked} unpacked inside, 0 escaped`);
});

test('every corpus case, through every tarball variable, into a real Debian tree (mmdebstrap, var/run -> /run): nothing outside changes', async () => {
  const debian = await debianRootfs({ agentInit: 'no' });
  assert.is(readlinkSync(join(debian, 'var/run')), '/run', 'Debian\'s own var/run link');
  const started = Date.now();
  const before = await outsideState();
  // Hard-linked copies: the unpacker replaces files, never writes into them, so the cached tree stays as it is.
  const copy = async (name: string) => {
    const root = join(scratch, name);
    await $`cp -al ${debian} ${root}`;
    symlinkSync(outside, join(root, 'var/out'));
    return root;
  };
  const archives = CORPUS.map((c, i) => {
    const path = join(scratch, `debian-case-${i}.tar`);
    writeFileSync(path, c.archive(outside));
    return { c, path };
  });
  const counts = { refused: 0, unpacked: 0 };
  // A refusal writes nothing, so the refused cases share one copy, checked unchanged after each case's four refusals.
  // They go first: making and removing the other copies moves link counts (and ctimes) of the shared inodes.
  const shared = await copy('debian-shared');
  const stamp = inodeStamp(shared);
  for (const { c, path } of archives.filter((a) => a.c.refused)) {
    for (const variable of VARIABLES) counts[await unpackCase(c, shared, variable, path)]++;
    assert.equal(inodeStamp(shared), stamp, `${c.what}: the Debian tree is unchanged after its refusals`);
  }
  await $`rm -rf ${shared}`;
  // An accepted archive writes: each (case, variable) gets its own copy, removed while the next one runs.
  const removals: Promise<unknown>[] = [];
  for (const [i, { c, path }] of archives.entries()) {
    if (c.refused) continue;
    for (const variable of VARIABLES) {
      const root = await copy(`debian-${i}-${variable}`);
      counts[await unpackCase(c, root, variable, path)]++;
      removals.push($`rm -rf ${root}`);
    }
  }
  await Promise.all(removals);
  assert.is(await outsideState(), before, 'nothing outside the tree changed');
  assert.is(counts.refused + counts.unpacked, CORPUS.length * VARIABLES.length);
  console.log(`  real Debian tree: ${CORPUS.length} archives x ${VARIABLES.length} variables: ${counts.refused} refused, ${counts.unpacked} unpacked inside, 0 escaped (${((Date.now() - started) / 1000).toFixed(1)} s)`);
});

test('rootfs.ts with a hostile AGENT_TARBALL: one ERROR before the build; with a good one the agent lands and var/run/x stays in the tree', async () => {
  const agent = await testAgentBinary();
  const before = await outsideState();
  const root = hostileTree();
  const tree = treeHash(root);
  const bad = join(scratch, 'agent-bad.tar');
  writeFileSync(bad, makeTar([{ name: 'pax_global_header', type: 'g', pax: { path: `var/run/${MARK}` } }, { name: 'usr/bin/kata-agent', data: 'x', mode: 0o755 }]));
  await $`zstd -q --rm ${bad}`;
  let out = await runRootfs(['-r', root], { AGENT_TARBALL: `${bad}.zst`, AGENT_INIT: 'yes' });
  assert.is.not(out.exitCode, 0);
  const errors = out.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.equal(errors.length, 1, out.stderr);
  assert.match(errors[0]!, /^ERROR: AGENT_TARBALL=.*agent-bad\.tar\.zst: .*pax global header setting path/);
  assert.is(treeHash(root), tree, 'the tree is untouched');

  const stage = join(scratch, 'agent-stage');
  mkdirSync(join(stage, 'usr/bin'), { recursive: true });
  mkdirSync(join(stage, 'var/run'), { recursive: true });
  await $`cp ${agent} ${join(stage, 'usr/bin/kata-agent')}`;
  writeFileSync(join(stage, `var/run/${MARK}`), 'guest runtime file\n');
  const good = join(scratch, 'agent-good.tar.zst');
  await $`tar --zstd -cf ${good} -C ${stage} .`;
  out = await runRootfs(['-r', root], { AGENT_TARBALL: good, AGENT_INIT: 'yes' });
  assert.is(out.exitCode, 0, out.stderr);
  assert.ok(lstatSync(join(root, 'sbin/init')).isFile());
  assert.ok(existsSync(join(root, `run/${MARK}`)), 'var/run/x went to the tree\'s /run');
  assert.ok(lstatSync(join(root, 'var/run')).isSymbolicLink(), 'var/run -> /run kept');
  assert.is(await outsideState(), before, 'nothing outside the tree changed');
});

test.run();
