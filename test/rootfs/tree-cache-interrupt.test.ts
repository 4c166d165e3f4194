// A rebuild on a hard-linked cached Debian tree, killed (SIGKILL of its
// process group) at every step of the Kata setup in turn: the cache entry
// and the previous rootfs, linked from the same entry, stay as they were,
// content, type, mode, owner and mtime of every path.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { removeTree } from '../../lib/core/safe-paths.ts';
import { restoreTree, storeTree, type TreeCache } from '../../lib/rootfs/tree-cache.ts';
import { treeListing } from '../../lib/rootfs/tree-listing.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { cleanEnv, repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';
import { debianStage } from '../helpers/sbom.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-tree-cache-interrupt-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const KEY = createHash('sha256').update('interrupt').digest('hex').slice(0, 32);
const cache: TreeCache = { dir: join(scratch, 'cache'), maxEntries: 2 };
const entryTree = join(cache.dir, KEY, 'tree');
const SETUP_ARGS = ['-d', '-o', 'interrupt-test'];

/** Content, type, mode, owner and mtime of every path (link counts and ctimes change with every link made, by design). */
async function fingerprint(root: string): Promise<string> {
  const times = (await $`cd ${root} && find . ! -type d -printf '%p %T@\n' | sort`).stdout;
  return createHash('sha256').update(treeListing(root)).update(times).digest('hex');
}

/** A step as the setup announces it (of the many `deleting /...` lines, the first). */
const isStepLine = (l: string, seen: string[]) => l.startsWith('INFO: ') && !(l.startsWith('INFO: deleting ') && seen.some((s) => s.startsWith('INFO: deleting ')));

/** rootfs.ts -r DIR (the setup alone); SIGKILL of its process group when the `killAt`-th step line shows. */
function setup(dir: string, env: Record<string, string>, killAt?: number): Promise<{ infos: string[]; killed: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(join(repoRoot, 'node_modules/.bin/tsx'), ['rootfs.ts', ...SETUP_ARGS, '-r', dir], {
      cwd: repoRoot, env: { ...cleanEnv(), PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const infos: string[] = [];
    let killed = false;
    let rest = '';
    child.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        if (!isStepLine(l, infos)) continue;
        infos.push(l);
        if (killAt !== undefined && infos.length === killAt + 1 && !killed) {
          killed = true;
          process.kill(-child.pid!, 'SIGKILL');
        }
      }
    });
    child.stderr.resume();
    child.on('close', (code) => resolve({ infos, killed, code }));
  });
}

test('a linked rebuild killed at each setup step leaves the cache entry and the previous rootfs unchanged', async () => {
  const env = { AGENT_SOURCE_BIN: await testAgentBinary() };
  await storeTree(cache, KEY, 'debian', await debianStage());
  const previous = join(scratch, 'previous');
  assert.ok(await restoreTree(cache, KEY, previous));
  const first = await runRootfs([...SETUP_ARGS, '-r', previous], env);
  assert.is(first.exitCode, 0, first.stderr);
  const [entryBefore, previousBefore] = [await fingerprint(entryTree), await fingerprint(previous)];
  // The steps as a complete run on a linked tree announces them; then a kill at each.
  const work = join(scratch, 'work');
  assert.ok(await restoreTree(cache, KEY, work));
  const steps = (await setup(work, env)).infos;
  assert.ok(steps.length >= 8, `the setup announces its steps:\n${steps.join('\n')}`);
  await removeTree(work);
  let killedRuns = 0;
  for (let i = 0; i < steps.length; i++) {
    assert.ok(await restoreTree(cache, KEY, work));
    const run = await setup(work, env, i);
    if (run.killed) killedRuns++;
    assert.is(await fingerprint(entryTree), entryBefore, `killed at "${steps[i]}": the cache entry is unchanged`);
    assert.is(await fingerprint(previous), previousBefore, `killed at "${steps[i]}": the previous rootfs is unchanged`);
    await removeTree(work);
  }
  assert.ok(killedRuns >= steps.length - 1, `${killedRuns} of ${steps.length} runs were killed`);
});

test.run();
