// tier: unit
// lib/core/plan.ts: the `+ CMD` / `# write PATH` lines, and the two guards — in
// plan mode a command through `$` does not run and a disk effect through
// lib/core/effects.ts does not happen; node:fs itself is left alone; leaving
// plan mode restores both.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $, haveCommand, startPlanMode, stopPlanMode } from '../../lib/core/exec.ts';
import { fx } from '../../lib/core/effects.ts';
import { commandLine, shellWord, writeLines } from '../../lib/core/plan.ts';

const scratch = mkdtempSync('/tmp/osbuilder-plan-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('command lines: quoted only when needed, another cwd in a subshell', () => {
  assert.is(shellWord('/a/b-c_d.e'), '/a/b-c_d.e');
  assert.is(shellWord("it's here"), `'it'\\''s here'`);
  assert.is(commandLine('make install', '/src/agent', '/work'), '+ (cd /src/agent && make install)');
  assert.is(commandLine('make', '/work', '/work'), '+ make');
  assert.is(commandLine('make', undefined, '/work'), '+ make');
});

test('writes: short text shown in full as comments, long or binary data by size', () => {
  assert.equal(writeLines('/r/etc/x.conf', 'a=1\n\nb=2\n'), ['# write /r/etc/x.conf', '#   a=1', '#   ', '#   b=2']);
  assert.equal(writeLines('/r/empty', ''), ['# write /r/empty']);
  assert.equal(writeLines('/r/bin', Buffer.alloc(10)), ['# write /r/bin (10 bytes)']);
  assert.equal(writeLines('/r/big', 'x'.repeat(5000)), ['# write /r/big (5000 bytes)']);
});

test('plan mode: commands are printed not run, disk writes are printed not made; stop restores both', async () => {
  const lines: string[] = [];
  const target = join(scratch, 'made');
  startPlanMode((l) => lines.push(l));
  try {
    assert.ok(fx.planning);
    const r = await $`touch ${target}`;
    assert.is(r.exitCode, 0);
    assert.is(r.stdout, '');
    await $({ cwd: scratch })`make ${'a b'}`;
    fx.mkdir(join(scratch, 'dir'), { recursive: true });
    fx.mkdir(join(scratch, 'dir'), { recursive: true });
    fx.write(join(scratch, 'dir/f.conf'), 'k=v\n');
    fx.symlink('../tmp', join(scratch, 'link'));
    const tmp = fx.mkdtemp(join(scratch, 'osbuilder-x-'));
    assert.is(tmp, join(scratch, 'osbuilder-x-XXXXXX'));
    fx.remove(tmp, { recursive: true });
    fx.note('# unpack a.tar /r');
    // Nothing patches node:fs: a write past the effects is a real one (test/core/disk-writes.test.ts keeps the build from making any).
    writeFileSync(join(scratch, 'direct'), 'x');
    // A plan assumes the build's tools are there.
    assert.ok(await haveCommand('no-such-tool-anywhere'));
  } finally {
    stopPlanMode();
  }
  assert.not.ok(fx.planning);
  assert.is(readFileSync(join(scratch, 'direct'), 'utf8'), 'x');
  assert.equal(lines, [
    `+ touch ${target}`,
    `+ (cd ${scratch} && make $'a b')`,
    `# mkdir ${scratch}/dir`,
    `# write ${scratch}/dir/f.conf`,
    '#   k=v',
    `# symlink ${scratch}/link -> ../tmp`,
    `# mkdir ${scratch}/osbuilder-x-XXXXXX`,
    `# remove ${scratch}/osbuilder-x-XXXXXX`,
    '# unpack a.tar /r',
  ]);
  for (const p of ['made', 'dir', 'link']) assert.not.ok(existsSync(join(scratch, p)), `${p} not created`);
  // Real again.
  await $`touch ${target}`;
  fx.write(join(scratch, 'real'), 'x');
  assert.ok(existsSync(target) && existsSync(join(scratch, 'real')));
  assert.not.ok(await haveCommand('no-such-tool-anywhere'));
});

test.run();
