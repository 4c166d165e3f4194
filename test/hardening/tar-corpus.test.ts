// The hostile-archive corpus (test/helpers/tar-corpus.ts) through every
// tarball variable, into trees whose var/run -> /run and var/out -> a
// sentinel directory: each refusal is one ERROR naming the variable and the
// entry with the tree untouched, each accepted archive lands inside the tree,
// and nothing outside it changes (the sentinel and the host's /run compared
// before and after). Then a real `rootfs.ts` run with AGENT_TARBALL.
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
import { CORPUS, MARK } from '../helpers/tar-corpus.ts';
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

test('every corpus case, through every tarball variable: refused by name, or unpacked inside; nothing outside changes', async () => {
  const before = await outsideState();
  let refused = 0;
  let unpacked = 0;
  for (const [i, c] of CORPUS.entries()) {
    const path = join(scratch, `case-${i}.tar`);
    writeFileSync(path, c.archive(outside));
    for (const variable of VARIABLES) {
      const root = hostileTree();
      const tree = treeHash(root);
      let error: string | undefined;
      try {
        await unpackTarball(root, { variable, path, compression: tarCompression(path, variable) });
      } catch (e) {
        if (!(e instanceof BuildError)) throw new Error(`${c.what}: not a clean refusal: ${(e as Error).stack}`);
        error = e.message;
      }
      if (c.refused) {
        assert.ok(error, `${c.what}: refused`);
        assert.not.match(error!, /\n/, 'one line');
        assert.ok(error!.startsWith(`${variable}=${path}`), error);
        assert.match(error!, c.refused, c.what);
        assert.match(error!, /nothing was unpacked/);
        assert.is(treeHash(root), tree, `${c.what}: the tree is untouched`);
        refused++;
      } else {
        assert.is(error, undefined, c.what);
        for (const rel of c.lands!(outside)) assert.ok(lstatSync(join(root, rel), { throwIfNoEntry: false }), `${c.what}: ${rel} in the tree`);
        assert.not.ok(readdirSync(root).some((n) => n.startsWith('.osbuilder-')), 'no spool or temporary left');
        unpacked++;
      }
      rmSync(root, { recursive: true, force: true });
    }
  }
  assert.is(await outsideState(), before, 'nothing outside the trees changed');
  console.log(`  corpus: ${CORPUS.length} archives x ${VARIABLES.length} variables: ${refused} refused, ${unpacked} unpacked inside, 0 escaped`);
});

test('every corpus case into its own copy of a real Debian tree (mmdebstrap, var/run -> /run), the variables in turn: nothing outside changes', async () => {
  const debian = await debianRootfs({ agentInit: 'no' });
  assert.is(readlinkSync(join(debian, 'var/run')), '/run', 'Debian\'s own var/run link');
  const before = await outsideState();
  let refused = 0;
  let unpacked = 0;
  for (const [i, c] of CORPUS.entries()) {
    const variable = VARIABLES[i % VARIABLES.length]!;
    const path = join(scratch, `debian-case-${i}.tar`);
    writeFileSync(path, c.archive(outside));
    // A hard-linked copy: the unpacker replaces files, never writes into them, so the cached tree stays as it is.
    const root = join(scratch, `debian-${i}`);
    await $`cp -al ${debian} ${root}`;
    symlinkSync(outside, join(root, 'var/out'));
    try {
      await unpackTarball(root, { variable, path, compression: tarCompression(path, variable) });
      assert.not.ok(c.refused, `${c.what}: unpacked`);
      for (const rel of c.lands!(outside)) assert.ok(lstatSync(join(root, rel), { throwIfNoEntry: false }), `${c.what}: ${rel} in the tree`);
      unpacked++;
    } catch (e) {
      if (!(e instanceof BuildError)) throw new Error(`${c.what}: not a clean refusal: ${(e as Error).stack}`);
      assert.ok(c.refused && c.refused.test(e.message), `${c.what}: ${e.message}`);
      assert.not.match(e.message, /\n/, 'one line');
      refused++;
    }
    assert.not.ok(readdirSync(root).some((n) => n.startsWith('.osbuilder-')), 'no spool or temporary left');
    await $`rm -rf ${root}`;
  }
  assert.is(await outsideState(), before, 'nothing outside the tree changed');
  console.log(`  real Debian tree: ${CORPUS.length} archives: ${refused} refused, ${unpacked} unpacked inside, 0 escaped`);
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
