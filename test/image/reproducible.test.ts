// SOURCE_DATE_EPOCH: the same tree gives the same image bytes, whatever the
// working directory, the tree's location or the time of the build.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { runImageTs, syntheticRootfs } from '../helpers/image-fixture.ts';

const EPOCH = '1700000000';
let treeA = '';
let treeB = '';
let out = '';

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

test.before(async () => {
  treeA = await syntheticRootfs();
  out = mkdtempSync('/tmp/image-repro-');
  await new Promise((r) => setTimeout(r, 1100)); // the copy gets other ctimes and atimes
  treeB = join(mkdtempSync('/tmp/image-repro-copy-'), 'rootfs');
  await $`cp -a ${treeA} ${treeB}`;
});
test.after(() => {
  for (const d of [treeA, join(treeB, '..'), out]) rmSync(d, { recursive: true, force: true });
});

/** Build `tree` from its own working directory into a fresh directory; returns [image sha256, root hash line]. */
async function build(tree: string, name: string, env: Record<string, string>, args: string[] = []): Promise<[string, string]> {
  const dir = mkdtempSync(join(out, `${name}-`));
  const r = await runImageTs([...args, '-o', join(dir, 'kata.img'), tree], env, dir);
  assert.is(r.exitCode, 0, r.stderr);
  const rootHash = env.MEASURED_ROOTFS === 'yes' ? readFileSync(join(dir, 'root_hash_.txt'), 'utf8') : '';
  const sum = sha256(join(dir, 'kata.img'));
  rmSync(dir, { recursive: true });
  return [sum, rootHash];
}

for (const fs of ['ext4', 'xfs', 'erofs'] as const) {
  for (const dax of ['no', 'yes'] as const) {
    test(`${fs}, SKIP_DAX_HEADER=${dax}, measured: same bytes and root hash from a copy of the tree`, async () => {
      const env = { SOURCE_DATE_EPOCH: EPOCH, SKIP_DAX_HEADER: dax, MEASURED_ROOTFS: 'yes' };
      const a = await build(treeA, `${fs}-a`, env, ['-f', fs]);
      const b = await build(treeB, `${fs}-b`, env, ['-f', fs]);
      assert.is(a[0], b[0], 'image sha256');
      assert.is(a[1], b[1], 'root hash parameters');
      assert.match(a[1], /^root_hash=[0-9a-f]{64},salt=[0-9a-f]{64},data_blocks=\d+,/);
    });
  }
}

test('a changed file changes the image; no SOURCE_DATE_EPOCH keeps builds unique', async () => {
  const env = { SOURCE_DATE_EPOCH: EPOCH };
  const [before] = await build(treeB, 'before', env);
  writeFileSync(join(treeB, 'etc/sgid'), 'G'); // same size, different byte
  const [after] = await build(treeB, 'after', env);
  assert.is.not(before, after);
  const [x] = await build(treeA, 'x', {});
  const [y] = await build(treeA, 'y', {});
  assert.is.not(x, y, 'random UUIDs and disk ids as upstream');
});

test.run();
