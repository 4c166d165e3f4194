// A fresh checkout has no node modules (issue 22, item 3): `make DISTRO=debian
// rootfs` installs them (npm ci, one INFO line) and goes on into rootfs.ts, or,
// without npm, stops with one ERROR naming the command to run — never a Node
// stack trace. Real clones of this checkout (its Makefile as it is now), a
// real npm ci against the registry.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';

const repo = new URL('../../', import.meta.url).pathname;
const scratch = mkdtempSync('/var/tmp/osbuilder-fresh-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

async function freshClone(name: string): Promise<string> {
  const dir = join(scratch, name);
  await $`git clone -q ${repo} ${dir}`;
  await $({ cwd: dir })`git checkout -q ${(await $({ cwd: repo })`git rev-parse HEAD`).stdout.trim()}`;
  copyFileSync(join(repo, 'Makefile'), join(dir, 'Makefile'));
  assert.not.ok(existsSync(join(dir, 'node_modules')), 'a fresh clone has no node modules');
  return dir;
}

const env = (path: string) => ({ PATH: path, HOME: process.env.HOME ?? '/root' });
// A variant rootfs.ts refuses right after its start: proof that tsx ran, without a build.
const rootfsArgs = ['DISTRO=debian', 'rootfs', 'BUILD_VARIANT=nvidia-gpu'];
const errorLines = (s: string) => s.split('\n').filter((l) => l.includes('ERROR:'));

test('without npm: one ERROR naming make setup, no stack trace, nothing installed', async () => {
  const dir = await freshClone('no-npm');
  // The host's commands, npm and npx left out.
  const bin = join(scratch, 'bin-without-npm');
  mkdirSync(bin);
  for (const d of ['/usr/bin', '/bin']) {
    for (const name of readdirSync(d)) if (!['npm', 'npx'].includes(name) && !existsSync(join(bin, name))) symlinkSync(join(d, name), join(bin, name));
  }
  const r = await $({ cwd: dir, env: env(bin), nothrow: true })`make ${rootfsArgs}`;
  assert.is.not(r.exitCode, 0);
  const errors = errorLines(r.stderr);
  assert.is(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /^ERROR: the node modules of .*\/no-npm are not installed and npm is missing: run make setup$/);
  assert.not.match(r.stdout + r.stderr, /Cannot find module|    at /);
  assert.not.ok(existsSync(join(dir, 'node_modules')));
});

test('with npm: installed on first use (one INFO line), then rootfs.ts runs; the next make installs nothing', async () => {
  const dir = await freshClone('with-npm');
  const first = await $({ cwd: dir, env: env(process.env.PATH!), nothrow: true })`make ${rootfsArgs}`;
  assert.match(first.stdout, /^INFO: installing the node modules \(npm ci in .*\/with-npm\): first use of this checkout$/m);
  assert.not.match(first.stdout + first.stderr, /Cannot find module|    at /);
  assert.ok(existsSync(join(dir, 'node_modules/.package-lock.json')));
  // rootfs.ts itself answered: its ERROR for the variant, the only one.
  assert.equal(errorLines(first.stderr), [errorLines(first.stderr).find((l) => /^ERROR: BUILD_VARIANT=nvidia-gpu is not supported/.test(l))]);
  const again = await $({ cwd: dir, env: env(process.env.PATH!), nothrow: true })`make ${rootfsArgs}`;
  assert.not.match(again.stdout, /installing the node modules/);
  assert.match(again.stderr, /^ERROR: BUILD_VARIANT=nvidia-gpu is not supported/m);
});

test.run();
