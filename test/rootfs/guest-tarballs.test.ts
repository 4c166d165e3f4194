// The guest tarballs (COCO_GUEST_COMPONENTS_TARBALL, PAUSE_IMAGE_TARBALL,
// GUEST_HOOKS_TARBALL): the header reader against GNU tar, owners and modes
// kept, and every hostile archive refused with the host and ROOTFS_DIR untouched.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { treeHash } from '../../lib/rootfs/cache.ts';
import { readTar, tarBytes, type TarCompression, type TarEntry } from '../../lib/rootfs/tar-read.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { makeTar, type TarSpec } from '../helpers/tar-writer.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-guest-tarballs-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));
let serial = 0;

/** A fresh existing tree (overlay mode) with a merged-usr link and an absolute var/run link to a host directory. */
function tree(outside: string): string {
  const root = join(scratch, `root-${++serial}`);
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  mkdirSync(join(root, 'var'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync(outside, join(root, 'var/run'));
  return root;
}

async function readTarEntries(path: string, compression: TarCompression): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  await readTar(tarBytes(path, compression), (e) => {
    out.push(e);
    return undefined;
  });
  return out;
}

async function zstdTar(entries: TarSpec[]): Promise<string> {
  const tar = join(scratch, `t-${++serial}.tar`);
  writeFileSync(tar, makeTar(entries));
  await $`zstd -q --rm ${tar}`;
  return `${tar}.zst`;
}

test('the header reader lists what GNU tar lists: long names, pax, links, gzip and plain', async () => {
  const src = join(scratch, 'src');
  const long = `${'d'.repeat(120)}/${'f'.repeat(110)}`;
  mkdirSync(join(src, 'd'.repeat(120)), { recursive: true });
  writeFileSync(join(src, long), 'x');
  symlinkSync('f'.repeat(110), join(src, 'd'.repeat(120), 'l'.repeat(105)));
  await $`ln ${join(src, long)} ${join(src, 'hard')}`;
  for (const [format, flag, compression] of [['gnu', '--gzip', 'gzip'], ['pax', '--zstd', 'zstd'], ['ustar', '', 'none']] as const) {
    const out = join(scratch, `gnu-${format}.tar`);
    await $`tar -c ${flag ? [flag] : []} --format=${format} -f ${out} -C ${src} .`.nothrow();
    if (format === 'ustar') continue; // names over 100+155 do not fit: GNU tar refuses, as it should
    const listed = (await $`tar -t -f ${out}`).stdout.trim().split('\n');
    const entries = await readTarEntries(out, compression);
    assert.equal(entries.map((e) => e.name.replace(/\/$/, '')), listed.map((n) => n.replace(/\/$/, '')), format);
    const link = entries.find((e) => e.name.endsWith('l'.repeat(105)))!;
    assert.is(link.kind, 'symlink');
    assert.is(link.linkName, 'f'.repeat(110));
    const hard = entries.find((e) => e.kind === 'hardlink')!;
    assert.ok(hard.linkName.endsWith('f'.repeat(110)) || hard.name.endsWith('f'.repeat(110)), 'hard link names its other name');
  }
  // POSIX ustar splits a long name into prefix and name.
  const split = join(scratch, 'split');
  const deep = join('a'.repeat(90), 'b'.repeat(90));
  mkdirSync(join(split, deep), { recursive: true });
  writeFileSync(join(split, deep, 'file'), 'x');
  const ustar = join(scratch, 'posix.tar');
  await $`tar -c --format=ustar -f ${ustar} -C ${split} .`;
  const names = (await readTarEntries(ustar, 'none')).map((e) => e.name);
  assert.equal(names, (await $`tar -t -f ${ustar}`).stdout.trim().split('\n'));
  assert.ok(names.includes(`./${deep}/file`));
});

test('a good tarball: owners and modes kept, through the tree\'s relative links, CONFIDENTIAL_GUEST implied', async () => {
  const outside = join(scratch, 'outside-good');
  mkdirSync(outside);
  const root = tree(outside);
  const tarball = await zstdTar([
    { name: 'usr/', type: '5' },
    { name: 'lib/coco/', type: '5', mode: 0o750, uid: 1234, gid: 4321 },
    { name: 'lib/coco/attestation-agent', data: '#!/bin/sh\n', mode: 0o4755, uid: 0, gid: 0 },
    { name: 'etc/ocicrypt_config.json', data: '{}', mode: 0o600, uid: 1234, gid: 4321 },
    { name: 'pause_bundle/rootfs/pause', data: 'p', mode: 0o755 },
    { name: 'pause_bundle/link', type: '2', linkName: '/run/elsewhere' },
  ]);
  const out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary(), AGENT_INIT: 'yes', COCO_GUEST_COMPONENTS_TARBALL: tarball });
  assert.is(out.exitCode, 0, out.stderr);
  const dir = statSync(join(root, 'usr/lib/coco'));
  assert.is(dir.mode & 0o7777, 0o750);
  assert.is(`${dir.uid}:${dir.gid}`, '1234:4321');
  assert.is(statSync(join(root, 'usr/lib/coco/attestation-agent')).mode & 0o7777, 0o4755);
  const cfg = statSync(join(root, 'etc/ocicrypt_config.json'));
  assert.is(`${cfg.mode & 0o7777} ${cfg.uid}:${cfg.gid}`, `${0o600} 1234:4321`);
  assert.ok(lstatSync(join(root, 'lib')).isSymbolicLink(), 'the merged-usr link is kept');
  assert.is(readdirSync(outside).length, 0);
  assert.match(out.stdout, /building a confidential guest/);
});

const hostile: [string, TarSpec[], RegExp][] = [
  ['absolute name', [{ name: '%OUT%/abs', data: 'x' }], /entry \/.*\/abs has an absolute name/],
  ['.. in the name', [{ name: 'etc/../../dotdot', data: 'x' }], /entry etc\/\.\.\/\.\.\/dotdot has a name with \.\./],
  ['hard link to an absolute path', [{ name: 'etc/shadow-copy', type: '1', linkName: '%OUT%/secret' }], /entry etc\/shadow-copy is a hard link that has an absolute link target/],
  ['hard link through the tree\'s symlink (to a host file: not in the tree)', [{ name: 'etc/secret', type: '1', linkName: 'var/run/secret' }],
    /entry etc\/secret is a hard link to var\/run\/secret, which is neither earlier in the archive nor in the tree/],
  ['pax global header naming a path', [{ name: 'pax_global_header', type: 'g', pax: { path: 'var/run/secret' } }, { name: 'benign', data: 'x' }],
    /pax global header setting path for every later entry/],
];

const VARIABLES = ['COCO_GUEST_COMPONENTS_TARBALL', 'PAUSE_IMAGE_TARBALL', 'GUEST_HOOKS_TARBALL'];

for (const [index, [what, specs, message]] of hostile.entries()) {
  test(`refused: ${what}; one ERROR naming the entry, host and ROOTFS_DIR untouched`, async () => {
    const outside = join(scratch, `outside-${++serial}`);
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'host file\n');
    const root = tree(outside);
    const before = treeHash(root);
    const tarball = await zstdTar(specs.map((s) => ({ ...s, name: s.name.replace('%OUT%', outside), linkName: s.linkName?.replace('%OUT%', outside) })));
    // Each variable goes through the same unpacker: the first case tries all three, the others one each in turn.
    for (const variable of index === 0 ? VARIABLES : [VARIABLES[index % 3]!]) {
      const out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary(), AGENT_INIT: 'yes', [variable]: tarball });
      assert.is.not(out.exitCode, 0);
      const errors = out.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
      assert.is(errors.length, 1, out.stderr);
      assert.match(errors[0]!, new RegExp(`^ERROR: ${variable}=`));
      assert.match(errors[0]!, message);
      assert.is(treeHash(root), before, 'ROOTFS_DIR untouched');
      assert.equal(readdirSync(outside), ['secret'], 'nothing written on the host');
      assert.is(readFileSync(join(outside, 'secret'), 'utf8'), 'host file\n');
    }
  });
}

test('paths through symlinks (the tree\'s absolute var/run, the archive\'s own, a relative one climbing up) land inside the tree, as the guest sees it', async () => {
  const outside = join(scratch, `outside-${++serial}`);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host file\n');
  const root = tree(outside);
  const tarball = await zstdTar([
    { name: 'var/run/agent.sock', data: 'x' },
    { name: 'esc', type: '2', linkName: outside },
    { name: 'esc/through', data: 'x' },
    { name: 'usr/up', type: '2', linkName: '../..' },
    { name: 'usr/up/climbed', data: 'x' },
    { name: 'lib/', type: '5' },
    { name: 'usr/lib/evil', type: '2', linkName: '/opt' },
    { name: 'lib/evil/file', data: 'x' },
  ]);
  const out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary(), AGENT_INIT: 'yes', GUEST_HOOKS_TARBALL: tarball });
  assert.is(out.exitCode, 0, out.stderr);
  const inTree = join(root, outside.slice(1));
  assert.equal(readdirSync(inTree).sort(), ['agent.sock', 'through'], 'var/run and esc resolved with the tree as /');
  assert.ok(existsSync(join(root, 'climbed')), '.. stops at the root');
  assert.ok(existsSync(join(root, 'opt/file')));
  assert.ok(lstatSync(join(root, 'var/run')).isSymbolicLink() && lstatSync(join(root, 'esc')).isSymbolicLink(), 'links kept as given');
  assert.equal(readdirSync(outside), ['secret'], 'nothing written on the host');
});

test('not a tar, a missing file: one ERROR each, nothing written', async () => {
  const root = tree(join(scratch, 'nowhere'));
  const notTar = join(scratch, 'not.tar.zst');
  writeFileSync(notTar, 'hello');
  let out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary(), PAUSE_IMAGE_TARBALL: notTar });
  assert.match(out.stderr, /^ERROR: PAUSE_IMAGE_TARBALL=.*not\.tar\.zst is not a tar archive/m);
  out = await runRootfs(['-r', root], { AGENT_SOURCE_BIN: await testAgentBinary(), GUEST_HOOKS_TARBALL: join(scratch, 'missing.tar.zst') });
  assert.match(out.stderr, /^ERROR: GUEST_HOOKS_TARBALL=.*missing\.tar\.zst is not a file/m);
  assert.not.ok(existsSync(join(root, 'usr/bin')));
});

test.run();
