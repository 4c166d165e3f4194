// tier: unit
// Write-to-temp-then-rename, the one helper every output goes through: the
// target appears whole or not at all, a failure leaves no temp, a dead
// process's temp is swept by the next writer, a cache entry made first by
// another process is kept.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { atomicOutput, stageOutput, tempPathFor, tempPrefix, writeFileAtomic } from '../../lib/core/atomic-write.ts';
import { $ } from '../../lib/core/exec.ts';
import { tempOwner } from '../../lib/core/stale-temps.ts';

const dir = mkdtempSync(join(tmpdir(), 'osb-atomic-'));
const deadPid = () => spawnSync('true').pid!;

test('temp names: hidden, beside the target, with the pid the sweep reads', () => {
  assert.is(tempPathFor(join(dir, 'a.img')), join(dir, `.a.img.tmp-${process.pid}`));
  assert.is(tempPrefix(join(dir, '.debs')), '.debs.tmp-', 'a hidden name keeps its one dot');
  assert.is(tempOwner(`.a.img.tmp-${process.pid}`, tempPrefix('a.img')), process.pid);
});

test('writeFileAtomic: the content and mode, no temp left; a failed write leaves neither', () => {
  const path = join(dir, 'manifest');
  writeFileAtomic(path, 'one\n', 0o600);
  writeFileAtomic(path, 'two\n', 0o600);
  assert.is(readFileSync(path, 'utf8'), 'two\n');
  assert.is(statSync(path).mode & 0o777, 0o600);
  assert.throws(() => writeFileAtomic(join(dir, 'no-such-dir', 'x'), 'x'), /ENOENT/);
  assert.equal(readdirSync(dir), ['manifest']);
});

test('atomicOutput: a command writes the temp, the target appears when it succeeds; a failing one leaves nothing', async () => {
  const sub = join(dir, 'cmd');
  mkdirSync(sub);
  const out = join(sub, 'out.bin');
  await atomicOutput(out, (tmp) => $`printf 'built' > ${tmp}`);
  assert.is(readFileSync(out, 'utf8'), 'built');
  await atomicOutput(join(sub, 'other'), (tmp) => $`printf 'half' > ${tmp} && exit 3`).then(() => assert.unreachable(), (e: unknown) => assert.is((e as { exitCode?: number }).exitCode, 3));
  assert.equal(readdirSync(sub), ['out.bin'], 'no temp and no target of the failed one');
});

test("a dead process's temp (file or directory) is swept; a live one's stays", async () => {
  const sub = join(dir, 'sweep');
  mkdirSync(sub);
  const target = join(sub, 'kernel-1');
  const dead = join(sub, `${tempPrefix(target)}${deadPid()}`);
  mkdirSync(join(dead, 'boot'), { recursive: true });
  const otherTarget = join(sub, 'x.img');
  const live = join(sub, `${tempPrefix(otherTarget)}1`); // pid 1 runs
  writeFileSync(live, '');
  await atomicOutput(target, async (tmp) => mkdirSync(join(tmp, 'boot'), { recursive: true }));
  assert.equal(readdirSync(sub).sort(), [`${tempPrefix(otherTarget)}1`, 'kernel-1'].sort());
  assert.equal(readdirSync(join(target)), ['boot'], 'a directory is renamed into place as a whole');
  rmSync(live);
});

test('keepExisting: another process made the cache entry first: theirs stays, ours goes', async () => {
  const sub = join(dir, 'race');
  mkdirSync(join(sub, 'busybox', 'bin'), { recursive: true });
  writeFileSync(join(sub, 'busybox', 'bin', 'first'), '');
  await atomicOutput(join(sub, 'busybox'), async (tmp) => mkdirSync(join(tmp, 'bin'), { recursive: true }), { keepExisting: true });
  assert.equal(readdirSync(join(sub, 'busybox', 'bin')), ['first']);
  assert.equal(readdirSync(sub), ['busybox']);
});

test('stageOutput: outputs committed together; a discarded one is gone', async () => {
  const image = await stageOutput(join(dir, 'k.img'));
  const hash = await stageOutput(join(dir, 'root_hash.txt'));
  writeFileSync(image.tmp, 'img');
  writeFileSync(hash.tmp, 'hash');
  image.commit();
  hash.discard();
  assert.ok(readdirSync(dir).includes('k.img'));
  assert.not.ok(readdirSync(dir).some((n) => n.includes('root_hash')));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
