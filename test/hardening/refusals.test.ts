// Issue 14's refusals: each bad input gives one ERROR naming what is wrong
// and the fix, a non-zero exit, and nothing written. Names that become part
// of an output path, -o DIR/, a huge SOURCE_DATE_EPOCH, no argument, init and
// agent links that do not resolve inside the tree, paths beyond PATH_MAX.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot, runImageTs, syntheticRootfs } from '../helpers/image-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-refusals-');
const out = join(work, 'out');
test.after(() => rmSync(work, { recursive: true, force: true }));
test.before.each(() => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
});

function runInitrdTs(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['INITRD_IMAGE', 'AGENT_INIT', 'AGENT_BIN', 'SOURCE_DATE_EPOCH', 'USE_DOCKER', 'USE_PODMAN'].includes(k)));
  return $({ nothrow: true, cwd: repoRoot, env: { ...clean, ...env } })`${join(repoRoot, 'node_modules/.bin/tsx')} ${join(repoRoot, 'initrd.ts')} ${args}`;
}

async function refused(run: Promise<{ exitCode: number | null; stderr: string }>, pattern: RegExp): Promise<void> {
  const r = await run;
  assert.is.not(r.exitCode, 0, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.is(errors.length, 1, `one ERROR line:\n${r.stderr}`);
  assert.match(errors[0]!, pattern);
  assert.not.match(r.stderr, /\n\s+at |ENOENT|ENAMETOOLONG/, 'no raw Node error');
  assert.equal(readdirSync(out), [], 'nothing written');
}

/** A small tree that packs (systemd init for image.ts, an agent for initrd.ts). */
async function tree(): Promise<string> {
  const root = await syntheticRootfs(work);
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(join(root, 'usr/bin/kata-agent'), '#!/bin/sh\n', { mode: 0o755 });
  return root;
}

test('image.ts with no argument is an error, not a silent exit 0', () =>
  refused(runImageTs([]), /give one rootfs directory or distro name: see -h/));

test('-o DIR/ with DIR absent: refused, no file named DIR', async () => {
  const root = await tree();
  await refused(runImageTs(['-o', join(out, 'nodir') + '/', root]), /-o .*nodir\/ names a directory: give a file name/);
  await refused(runInitrdTs(['-o', join(out, 'nodir') + '/', root]), /-o .*nodir\/ names a directory/);
});

test('BUILD_VARIANT that would leave the output directory or name a subdirectory: refused before any work', async () => {
  const root = await tree();
  for (const v of ['/../../x', 'a/b', '..']) {
    await refused(runImageTs(['-o', join(out, 'k.img'), root], { MEASURED_ROOTFS: 'yes', BUILD_VARIANT: v }), /BUILD_VARIANT=.* is not valid: it becomes part of a file name/);
  }
  assert.not.ok(existsSync(join(work, 'x')) || existsSync('/x'));
});

test('a SOURCE_DATE_EPOCH beyond 32 bits is refused (it would wrap)', async () => {
  const root = await tree();
  await refused(runImageTs(['-o', join(out, 'k.img'), root], { SOURCE_DATE_EPOCH: '99999999999' }), /SOURCE_DATE_EPOCH=99999999999 is out of range: give a number from 0 to 4294967295/);
  await refused(runInitrdTs(['-o', join(out, 'i.img'), root], { SOURCE_DATE_EPOCH: '99999999999' }), /SOURCE_DATE_EPOCH=99999999999 is out of range/);
});

test('init and agent links are resolved inside the tree, as the guest will', async () => {
  const root = await tree();
  const init = join(root, 'sbin/init');
  unlinkSync(init);
  symlinkSync('/nowhere/init', init); // dangling
  await refused(runImageTs(['-o', join(out, 'k.img'), root]), /\/sbin\/init in .* is a symlink to \/nowhere\/init that does not resolve inside the rootfs/);
  await refused(runInitrdTs(['-o', join(out, 'i.img'), root]), /\/sbin\/init in .* is a symlink to \/nowhere\/init that does not resolve/);

  // systemd a link to a host file the tree lacks (the host has /bin/true).
  unlinkSync(init);
  symlinkSync('/usr/lib/systemd/systemd', init);
  rmSync(join(root, 'usr/lib/systemd/systemd'));
  symlinkSync('/bin/true', join(root, 'usr/lib/systemd/systemd'));
  await refused(runImageTs(['-o', join(out, 'k.img'), root]), /\/sbin\/init in .* does not resolve inside the rootfs|none of .*systemd is installed in .* as an executable file/);

  // The agent a link to a host file the tree lacks.
  const root2 = await tree();
  unlinkSync(join(root2, 'usr/bin/kata-agent'));
  symlinkSync('/bin/true', join(root2, 'usr/bin/kata-agent'));
  await refused(runInitrdTs(['-o', join(out, 'i.img'), root2]), /\/usr\/bin\/kata-agent in .* is a symlink to \/bin\/true that does not resolve inside the rootfs/);
});

test('ext4 with SOURCE_DATE_EPOCH and a name holding a newline: refused by name before any work, erofs suggested', async () => {
  const root = await tree();
  writeFileSync(join(root, 'etc/new\nline'), 'x');
  const r = runImageTs(['-o', join(out, 'k.img'), root], { SOURCE_DATE_EPOCH: '1700000000' });
  await refused(r, /cannot edit \/etc\/new\\x0aline in the ext4 image: .*FS_TYPE=erofs/);
  assert.not.match((await r).stdout, /Creating raw disk/);
});

test('a path deeper than PATH_MAX is refused by name, not with a raw ENAMETOOLONG', async () => {
  const root = await tree();
  const part = 'd'.repeat(200);
  // mkdir -p walks component by component, so it can make what no single path names.
  await $({ cwd: root })`mkdir -p ${Array(24).fill(part).join('/')}`;
  await refused(runImageTs(['-o', join(out, 'k.img'), root]), /\/dddd.*bytes\) is \d+ bytes long with the rootfs path: paths of 4096 bytes \(PATH_MAX\) or more cannot be packed/);
  await refused(runInitrdTs(['-o', join(out, 'i.img'), root]), /bytes deep: paths of 4096 bytes or more cannot be packed/);
  await $({ cwd: root })`rm -rf ${part}`;
});

test.run();
