// tier: unit
// How an entry point reports what went wrong: a failed command names the
// command (its first words) and the tail of its stderr; an unexpected error
// is called a bug, with its stack under DEBUG=1.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'osb-errors-'));
const script = (name: string, body: string) => {
  const path = join(dir, name);
  // As an entry point: the settings resolved once (DEBUG among them), then the work.
  writeFileSync(path, [
    `import { configureOutput, resolveSettings, runMain } from '${repoRoot}/lib/core/cli.ts';`,
    `import { outputSettings } from '${repoRoot}/lib/core/shared-settings.ts';`,
    `import { $ } from '${repoRoot}/lib/core/exec.ts';`,
    `await runMain(async () => { configureOutput(resolveSettings(outputSettings, process.env)); ${body} });`, '',
  ].join('\n'));
  return path;
};
const run = (path: string, debug = '') => $({ nothrow: true, env: { ...process.env, DEBUG: debug, NO_COLOR: '1' } })`${repoRoot}/node_modules/.bin/tsx ${path}`;
const errors = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ERROR:'));

test('a failed command: its first words and the last line of its stderr', async () => {
  const out = await run(script('cmd.mts', "await $`ls --color=never -d /nonexistent-osb-probe`;"));
  assert.is(out.exitCode, 1);
  assert.equal(errors(out.stderr), ["ERROR: command failed (exit 2): ls --color=never -d ...: ls: cannot access '/nonexistent-osb-probe': No such file or directory"]);
});

test('an unexpected error is called a bug; DEBUG=1 adds its stack', async () => {
  const path = script('bug.mts', 'const x: any = undefined; x.field.more = 1;');
  const [quiet, loud] = await Promise.all([run(path), run(path, '1')]);
  assert.is(quiet.exitCode, 1);
  assert.equal(errors(quiet.stderr).length, 1);
  assert.match(errors(quiet.stderr)[0]!, /^ERROR: unexpected error \(a bug in osbuilder-ts; rerun with DEBUG=1 for its stack\): TypeError: /);
  assert.not.match(quiet.stderr, /\n\s+at /);
  assert.match(errors(loud.stderr)[0]!, /its stack follows\): TypeError: /);
  assert.match(loud.stderr, /TypeError: .*\n\s+at .*bug\.mts/);
});

test.run();
