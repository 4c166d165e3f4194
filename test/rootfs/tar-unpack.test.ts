// The tar reader and writer against GNU tar on archives GNU tar made (gnu,
// pax and ustar formats; zstd, gzip, plain): every path, type, mode (setuid
// included), numeric owner, size, mtime, link target, content and hard-link
// group comes out as `tar -x` makes it. A failed write is one clean ERROR;
// plan mode writes nothing.
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $, startPlanMode, stopPlanMode } from '../../lib/core/exec.ts';
import { tarCompression } from '../../lib/rootfs/tar-read.ts';
import { BuildError } from '../../lib/core/log.ts';
import { processAlive } from '../../lib/core/stale-temps.ts';
import { checkTarball, unpackArchive, unpackTarball } from '../../lib/rootfs/tar-unpack.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';
import { makeTar } from '../helpers/tar-writer.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-tar-unpack-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

/** A tree with every kind of entry a guest tarball may carry. */
async function sourceTree(dir: string, longNames: boolean): Promise<void> {
  const long = longNames ? `${'d'.repeat(120)}/${'f'.repeat(110)}` : 'ddd/fff';
  for (const d of ['usr/bin', 'etc/secret', 'tmp', 'opt/coco', long.split('/')[0]!]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'usr/bin/agent'), '#!/bin/sh\necho agent\n');
  chmodSync(join(dir, 'usr/bin/agent'), 0o4755);
  writeFileSync(join(dir, 'etc/secret/key'), 'k');
  chmodSync(join(dir, 'etc/secret/key'), 0o600);
  chownSync(join(dir, 'etc/secret/key'), 1234, 4321);
  chmodSync(join(dir, 'etc/secret'), 0o750);
  chownSync(join(dir, 'etc/secret'), 1234, 4321);
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'opt/coco'), 0o2755);
  writeFileSync(join(dir, 'opt/coco/empty'), '');
  writeFileSync(join(dir, 'opt/coco/big'), Buffer.alloc((3 << 20) + 123, 0x5a));
  writeFileSync(join(dir, 'opt/coco/é ü space.txt'), 'unicode\n');
  writeFileSync(join(dir, long), 'long\n');
  linkSync(join(dir, 'usr/bin/agent'), join(dir, 'usr/bin/agent-hard'));
  linkSync(join(dir, long), join(dir, 'opt/hard-to-long'));
  symlinkSync('/usr/bin/agent', join(dir, 'usr/bin/abs-link'));
  symlinkSync('../usr/bin/agent', join(dir, 'opt/rel-link'));
  symlinkSync('/nowhere/at/all', join(dir, 'opt/dangling'));
  if (longNames) symlinkSync('l'.repeat(150), join(dir, 'opt/long-target'));
  await $`mkfifo ${join(dir, 'opt/fifo')}`;
  await $`mknod -m 620 ${join(dir, 'opt/tty9')} c 4 9`;
  await $`mknod -m 660 ${join(dir, 'opt/vdz')} b 254 16`;
  await $`find ${dir} -exec touch -h -d @1700000123 {} +`;
}

/** Everything about a tree but its root, inode numbers replaced by hard-link groups. */
async function listing(root: string): Promise<string[]> {
  const lines = (await $`cd ${root} && find . -mindepth 1 -printf '%p\t%y\t%m\t%U:%G\t%s\t%T@\t%l\t%n\t%i\n'`).stdout.trim().split('\n');
  const groups = new Map<string, string>();
  const rows = lines.map((l) => l.split('\t')).sort((a, b) => a[0]!.localeCompare(b[0]!));
  const sums = new Map((await $`cd ${root} && find . -type f -exec sha256sum {} +`).stdout.trim().split('\n').map((l) => [l.slice(66), l.slice(0, 16)] as const));
  const devs = new Map((await $`cd ${root} && find . -type c,b -exec stat -c '%n %t:%T' {} +`).stdout.trim().split('\n').map((l) => [l.slice(0, l.lastIndexOf(' ')), l.slice(l.lastIndexOf(' ') + 1)] as const));
  return rows.map(([path, type, mode, owner, size, mtime, target, links, inode]) => {
    if (!groups.has(inode!)) groups.set(inode!, path!);
    return [path, type, mode, owner, type === 'd' ? '-' : size, mtime, target, links, groups.get(inode!), sums.get(path!) ?? '-', devs.get(path!) ?? ''].join(' ');
  });
}

const FORMATS = [
  ['gnu', 'zstd', true],
  ['pax', 'gzip', true],
  ['ustar', 'none', false],
  ['pax', 'zstd', false],
] as const;

for (const [format, compression, longNames] of FORMATS) {
  test(`a ${format} archive (${compression}${longNames ? ', long names' : ''}) unpacks exactly as tar -x unpacks it`, async () => {
    const base = join(scratch, `${format}-${compression}`);
    const src = join(base, 'src');
    mkdirSync(src, { recursive: true });
    await sourceTree(src, longNames);
    const path = join(base, `a.tar${compression === 'none' ? '' : compression === 'zstd' ? '.zst' : '.gz'}`);
    const flag = compression === 'none' ? [] : [`--${compression}`];
    await $`tar -c ${flag} --format=${format} --numeric-owner -f ${path} -C ${src} .`;
    const ours = join(base, 'ours');
    const theirs = join(base, 'theirs');
    mkdirSync(ours);
    mkdirSync(theirs);
    assert.is(tarCompression(path, 'T'), compression);
    await checkTarball('GUEST_HOOKS_TARBALL', path, ours);
    await unpackTarball(ours, { variable: 'GUEST_HOOKS_TARBALL', path, compression });
    await $`tar -x -f ${path} -C ${theirs} --numeric-owner --same-owner --same-permissions`;
    const want = await listing(theirs);
    assert.ok(want.length >= 20, want.join('\n'));
    assert.ok(want.some((l) => l.startsWith('./usr/bin/agent f 4755 0:0 ')) && want.some((l) => l.startsWith('./opt/tty9 c 620 ') && l.endsWith(' 4:9')), want.join('\n'));
    assert.equal(await listing(ours), want);
  });
}

test('a second archive over the first: files replaced, existing directories and a symlink to a directory kept', async () => {
  const root = join(scratch, 'over');
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  chmodSync(join(root, 'usr/lib'), 0o700);
  symlinkSync('usr/lib', join(root, 'lib'));
  writeFileSync(join(root, 'usr/lib/old'), 'old');
  const src = join(scratch, 'over-src');
  mkdirSync(join(src, 'lib'), { recursive: true });
  writeFileSync(join(src, 'lib/old'), 'new');
  const path = join(scratch, 'over.tar');
  await $`tar -c -f ${path} -C ${src} .`;
  await unpackTarball(root, { variable: 'PAUSE_IMAGE_TARBALL', path, compression: 'none' });
  assert.is((await $`readlink ${join(root, 'lib')}`).stdout.trim(), 'usr/lib', 'lib stays a link');
  assert.is((await $`stat -c %a ${join(root, 'usr/lib')}`).stdout.trim(), '700', 'an existing directory keeps its mode');
  assert.is((await $`cat ${join(root, 'usr/lib/old')}`).stdout, 'new');
});

test('a write that fails (an immutable directory) is one ERROR naming the variable, the entry and the cause; no temporary left', async () => {
  const root = join(scratch, 'immutable');
  mkdirSync(join(root, 'etc'), { recursive: true });
  const path = join(scratch, 'immutable.tar');
  writeFileSync(path, makeTar([{ name: 'usr/bin/first', data: 'a' }, { name: 'etc/blocked', data: 'b' }]));
  await $`chattr +i ${join(root, 'etc')}`;
  try {
    await unpackArchive(root, { variable: 'PAUSE_IMAGE_TARBALL', path, compression: 'none' });
    assert.unreachable('the write must fail');
  } catch (e) {
    assert.instance(e, BuildError);
    assert.match((e as Error).message, new RegExp(`^PAUSE_IMAGE_TARBALL=${path}: entry etc/blocked could not be written to ${root}/etc/blocked \\(EPERM\\)`));
  } finally {
    await $`chattr -i ${join(root, 'etc')}`;
  }
  assert.equal(readdirSync(join(root, 'etc')), []);
  assert.not.ok(readdirSync(root).some((n) => n.startsWith('.osbuilder-')), 'spool removed');
});

test('before a DISTRO build (no tree yet) a hard link to a tree file waits for the unpack; against an existing tree it must be there', async () => {
  const path = join(scratch, 'hard-to-tree.tar');
  writeFileSync(path, makeTar([{ name: 'etc/passwd-copy', type: '1', linkName: 'etc/passwd' }]));
  await checkTarball('GUEST_HOOKS_TARBALL', path);
  const root = join(scratch, 'no-passwd');
  mkdirSync(join(root, 'etc'), { recursive: true });
  try {
    await checkTarball('GUEST_HOOKS_TARBALL', path, root);
    assert.unreachable('refused');
  } catch (e) {
    assert.match((e as Error).message, /entry etc\/passwd-copy is a hard link to etc\/passwd, which is neither earlier in the archive nor in the tree/);
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await unpackArchive(root, { variable: 'GUEST_HOOKS_TARBALL', path, compression: 'none' });
  assert.is((await $`stat -c %h ${join(root, 'etc/passwd')}`).stdout.trim(), '2');
});

test('the spool of a killed unpack (overlay tree) is swept by the next unpack; a live run\'s spool and what a link of that name points to are kept', async () => {
  const root = join(scratch, 'killed');
  mkdirSync(join(root, 'etc'), { recursive: true });
  const big = join(scratch, 'killed.tar');
  await $`head -c 64M /dev/zero > ${join(scratch, 'zeros')}`;
  await $`tar -c -f ${big} -C ${scratch} zeros`;
  const script = join(scratch, 'unpack.mts');
  writeFileSync(script, `import { unpackArchive } from ${JSON.stringify(join(repoRoot, 'lib/rootfs/tar-unpack.ts'))};\n` +
    `await unpackArchive(${JSON.stringify(root)}, { variable: 'GUEST_HOOKS_TARBALL', path: ${JSON.stringify(big)}, compression: 'none' });\n`);
  // Its own process group: tsx runs the script in a child node, and the whole group is killed, as an OOM kill would.
  const child = spawn(join(repoRoot, 'node_modules/.bin/tsx'), [script], { stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // Killed while it spools: its spool holds data.
  const spools = () => readdirSync(root).filter((n) => n.startsWith('.osbuilder-unpack-'));
  const deadline = Date.now() + 60_000;
  while (!spools().some((s) => readdirSync(join(root, s)).length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
  const left = spools();
  assert.is(left.length, 1, 'the killed run left its spool');
  const owner = Number(/^\.osbuilder-unpack-(\d+)-/.exec(left[0]!)?.[1]);
  while (processAlive(owner)) await new Promise((r) => setTimeout(r, 20));
  const other = join(scratch, 'not-a-spool');
  mkdirSync(other);
  writeFileSync(join(other, 'keep'), 'kept');
  symlinkSync(other, join(root, `.osbuilder-unpack-${deadPid()}-link`));
  const live = `.osbuilder-unpack-${process.ppid}-live`;
  mkdirSync(join(root, live));

  const path = join(scratch, 'after-kill.tar');
  writeFileSync(path, makeTar([{ name: 'etc/after', data: 'x' }]));
  await unpackTarball(root, { variable: 'GUEST_HOOKS_TARBALL', path, compression: 'none' });
  assert.equal(spools(), [live], 'the dead runs\' spool and link swept, the live one kept');
  assert.equal(readdirSync(other), ['keep'], 'a link is removed, not followed');
  assert.ok(readdirSync(join(root, 'etc')).includes('after'));
});

/** The PID of a process that has exited. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

test('plan mode: one # unpack line, nothing read or written', async () => {
  const root = join(scratch, 'plan-root');
  const lines: string[] = [];
  startPlanMode((l) => lines.push(l));
  try {
    await unpackTarball(root, { variable: 'COCO_GUEST_COMPONENTS_TARBALL', path: '/nonexistent.tar.zst', compression: 'zstd' });
  } finally {
    stopPlanMode();
  }
  assert.equal(lines, [`# unpack /nonexistent.tar.zst ${root}`]);
  assert.is((await $`ls ${scratch}`).stdout.includes('plan-root'), false);
});

test.run();
