// tier: unit
// scripts/launch.mjs, which the Makefile and upstream's script paths run the
// builders through: the bundle is made once per source state and kept per
// user, a changed source makes a new one (the old one goes), the script
// behaves as under tsx (output, exit code, argv), DEBUG=1 stacks name the .ts
// files, and without a usable cache dir the script still runs (under tsx).
// A copy of the project is used, so touching its sources leaves the
// checkout's own bundles alone.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-launch-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const project = join(scratch, 'project');
mkdirSync(project);
for (const name of readdirSync(repoRoot)) {
  if (name === 'node_modules') symlinkSync(join(repoRoot, name), join(project, name));
  else if (/\.(ts|json)$/.test(name) || ['lib', 'rootfs', 'scripts'].includes(name)) cpSync(join(repoRoot, name), join(project, name), { recursive: true });
}
const cache = join(scratch, 'cache');
const bundles = join(cache, 'osbuilder-ts/bundles');
const env = (extra: Record<string, string> = {}) => ({ ...process.env, XDG_CACHE_HOME: cache, DEBUG: '', ...extra });
const launch = (args: string[], extra: Record<string, string> = {}) =>
  $({ nothrow: true, env: env(extra) })`node ${join(project, 'scripts/launch.mjs')} ${args}`;
const tsx = (args: string[]) => $({ nothrow: true, env: env() })`${join(repoRoot, 'node_modules/.bin/tsx')} ${args}`;
const listing = () => readdirSync(bundles).sort();

test('image.ts -h through the launcher: the same output and exit code as under tsx; one bundle and its map, kept', async () => {
  const first = await launch([join(project, 'image.ts'), '-h']);
  const direct = await tsx([join(project, 'image.ts'), '-h']);
  assert.is(first.exitCode, direct.exitCode);
  assert.is(first.stdout, direct.stdout);
  assert.match(first.stdout, /Usage: image\.ts/);
  const made = listing();
  assert.is(made.length, 2, made.join(' '));
  assert.match(made[0]!, /^image-[0-9a-f]{8}-[0-9a-f]{16}\.mjs$/);
  assert.is(made[1], `${made[0]}.map`);
  const mtime = statSync(join(bundles, made[0]!)).mtimeMs;
  const again = await launch([join(project, 'image.ts'), '-h']);
  assert.is(again.stdout, first.stdout);
  assert.equal(listing(), made, 'the second run uses the bundle made by the first');
  assert.is(statSync(join(bundles, made[0]!)).mtimeMs, mtime);
});

test('a bad argument: the one ERROR line and exit code tsx gives', async () => {
  const ours = await launch([join(project, 'image.ts'), join(scratch, 'no-such-rootfs')]);
  const direct = await tsx([join(project, 'image.ts'), join(scratch, 'no-such-rootfs')]);
  assert.is.not(ours.exitCode, 0);
  assert.is(ours.exitCode, direct.exitCode);
  assert.is(ours.stderr, direct.stderr);
  assert.is(ours.stderr.split('\n').filter((l) => l.startsWith('ERROR:')).length, 1, ours.stderr);
});

test('a changed source makes a new bundle and drops the old one', async () => {
  const before = listing();
  const file = join(project, 'lib/core/log.ts');
  const later = new Date(Date.now() + 5000);
  utimesSync(file, later, later);
  const out = await launch([join(project, 'image.ts'), '-h']);
  assert.is(out.exitCode, 0, out.stderr);
  const after = listing();
  assert.is(after.length, 2, after.join(' '));
  assert.is.not(after[0], before[0]);
  assert.ok(after[0]!.startsWith(before[0]!.slice(0, 'image-12345678-'.length)), 'same script and project, new key');
});

test('DEBUG=1: an unexpected error\'s stack names the .ts file and line (source map)', async () => {
  writeFileSync(join(project, 'boom.ts'), [
    "import { configureOutput, isMain, runMain } from './lib/core/cli.ts';",
    'configureOutput({ debug: true });',
    'function explode(): never {',
    "  throw new TypeError('boom from the launcher test');",
    '}',
    'if (isMain(import.meta.url)) await runMain(async () => explode());',
    '',
  ].join('\n'));
  const out = await launch([join(project, 'boom.ts')], { DEBUG: '1' });
  assert.is.not(out.exitCode, 0);
  assert.match(out.stderr, /boom from the launcher test/);
  assert.match(out.stderr, /boom\.ts:4:/, out.stderr);
  assert.match(out.stderr, /DEBUG: launch: made /, 'DEBUG names the bundle it made');
});

test('no usable cache dir: the script still runs, under tsx', async () => {
  const notADir = join(scratch, 'a-file');
  writeFileSync(notADir, '');
  const out = await $({ nothrow: true, env: { ...process.env, XDG_CACHE_HOME: notADir, DEBUG: '1' } })`node ${join(project, 'scripts/launch.mjs')} ${join(project, 'image.ts')} -h`;
  assert.is(out.exitCode, 0, out.stderr);
  assert.match(out.stdout, /Usage: image\.ts/);
  assert.match(out.stderr, /no bundle of .*image\.ts: running it under tsx/);
});

test('no script: one ERROR line', async () => {
  const out = await $({ nothrow: true })`node ${join(project, 'scripts/launch.mjs')}`;
  assert.is(out.exitCode, 2);
  assert.match(out.stderr, /^ERROR: no script given/);
});

test.run();
