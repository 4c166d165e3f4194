// Randomised archives: a few hundred mutants of valid ones (header bytes
// flipped with and without a fixed checksum, types, names, link names and
// size fields changed, truncated, padded with garbage, entries duplicated),
// seeded so every run is the same. Each is unpacked into a tree whose var/run
// and var/out lead to a sentinel directory outside: every failure must be one
// clean refusal with the tree untouched, and nothing may appear outside.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { BuildError } from '../../lib/core/log.ts';
import { treeHash } from '../../lib/rootfs/cache.ts';
import { unpackArchive } from '../../lib/rootfs/tar-unpack.ts';
import { MARK } from '../helpers/tar-corpus.ts';
import { fixChecksum, makeTar } from '../helpers/tar-writer.ts';

const MUTANTS = 300;
const scratch = mkdtempSync('/var/tmp/osbuilder-tar-fuzz-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const outside = join(scratch, 'outside');
const trees = join(scratch, 'trees');
mkdirSync(outside);
mkdirSync(trees);
writeFileSync(join(outside, 'secret'), 'host file\n');

/** mulberry32: a small seeded generator. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function baseArchives(): Promise<Buffer[]> {
  const own = makeTar([
    { name: 'usr/', type: '5' },
    { name: `usr/bin/${MARK}-agent`, data: 'agent\n', mode: 0o4755 },
    { name: `usr/bin/${MARK}-hard`, type: '1', linkName: `usr/bin/${MARK}-agent` },
    { name: `var/run/${MARK}-sock`, data: 's' },
    { name: `esc-${MARK}`, type: '2', linkName: outside },
    { name: `esc-${MARK}/inner`, data: 'i' },
    { name: 'P/x', type: 'x', pax: { path: `var/out/${MARK}-pax`, uid: '1000', mtime: '1700000000.5' } },
    { name: 'short', data: 'p' },
    { name: '././@LongLink', type: 'L', data: `opt/${'n'.repeat(120)}-${MARK}\0` },
    { name: 'short', data: 'l' },
    { name: '././@LongLink', type: 'K', data: `${'t'.repeat(120)}\0` },
    { name: `opt/${MARK}-longlink`, type: '2', linkName: 'short' },
    { name: 'pax_global_header', type: 'g', pax: { uid: '7' } },
    { name: `up-${MARK}`, type: '2', linkName: '../../../..' },
    { name: `up-${MARK}/${MARK}-climb`, data: 'c' },
    { name: `dev/${MARK}-fifo`, type: '6' },
  ]);
  const src = join(scratch, 'src');
  mkdirSync(join(src, 'var/run'), { recursive: true });
  mkdirSync(join(src, `d${'d'.repeat(110)}`), { recursive: true });
  writeFileSync(join(src, `var/run/${MARK}`), 'x'.repeat(700));
  writeFileSync(join(src, `d${'d'.repeat(110)}/${'f'.repeat(105)}-${MARK}`), 'y');
  symlinkSync('/run', join(src, `run-${MARK}`));
  await $`ln ${join(src, `var/run/${MARK}`)} ${join(src, `hard-${MARK}`)}`;
  const out: Buffer[] = [own];
  for (const format of ['gnu', 'pax']) {
    const path = join(scratch, `${format}.tar`);
    await $`tar -c --format=${format} -f ${path} -C ${src} .`;
    out.push(Buffer.from((await $`cat ${path}`.quiet()).stdout, 'latin1'));
  }
  return out;
}

/** Offsets of the header blocks of a valid archive. */
function headers(tar: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    out.push(at);
    const size = parseInt(tar.toString('latin1', at + 124, at + 136).replace(/\0.*$/, ''), 8) || 0;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

const NAMES = ['var/run/', 'var/run/.', `var/run/${MARK}-n`, `../${MARK}`, `/run/${MARK}`, '.', './', 'a//b', 'etc', `var/out/${MARK}-o`, `lib/../..`, `esc-${MARK}/${MARK}-e`];
const LINKS = ['/run', outside, '../../../..', 'var/run', 'no/such', 'etc/hostname', '/', `usr/bin/${MARK}-agent`, ''];
const TYPES = ['0', '\0', '1', '2', '3', '4', '5', '6', '7', 'L', 'K', 'x', 'g', 'S', 'D', 'V', 'Z'];
const SIZES = ['00000002000x', '00000000000\0', '00000001000\0', '77777777777\0', '           \0', '-0000000001\0'];

function mutate(base: Buffer, rnd: () => number): Buffer {
  let tar = Buffer.from(base);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
    const hs = headers(tar);
    const h = hs.length ? pick(hs) : 0;
    const block = tar.subarray(h, h + 512);
    const kind = Math.floor(rnd() * 10);
    if (kind === 0) block[Math.floor(rnd() * 512)] = Math.floor(rnd() * 256);
    else if (kind === 1) { block[Math.floor(rnd() * 512)] = Math.floor(rnd() * 256); fixChecksum(block); }
    else if (kind === 2) { block.write(pick(TYPES), 156, 'latin1'); fixChecksum(block); }
    else if (kind === 3) { block.fill(0, 0, 100); block.write(pick(NAMES), 0, 100); fixChecksum(block); }
    else if (kind === 4) { block.fill(0, 157, 257); block.write(pick(LINKS), 157, 100); fixChecksum(block); }
    else if (kind === 5) {
      const size = pick(SIZES);
      if (size.startsWith('-')) { block.fill(0xff, 124, 136); } else block.write(size, 124, 'latin1');
      fixChecksum(block);
    } else if (kind === 6) tar = tar.subarray(0, Math.floor(rnd() * tar.length));
    else if (kind === 7) tar = Buffer.concat([tar, Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 1024) }, () => Math.floor(rnd() * 256)))]);
    else if (kind === 8) { const at = h + 512 + Math.floor(rnd() * 64); if (at < tar.length) tar[at] = Math.floor(rnd() * 256); }
    else {
      const next = hs[hs.indexOf(h) + 1] ?? h + 512;
      const at = pick(hs.length ? hs : [0]);
      tar = Buffer.concat([tar.subarray(0, at), tar.subarray(h, next), tar.subarray(at)]);
    }
  }
  return tar;
}

function tree(n: number): string {
  const root = join(trees, `t${n}`);
  for (const d of ['usr/lib', 'etc', 'run']) mkdirSync(join(root, d), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync(outside, join(root, 'var/run'));
  symlinkSync(outside, join(root, 'var/out'));
  writeFileSync(join(root, 'etc/hostname'), 'guest\n');
  return root;
}

async function outsideState(): Promise<string> {
  const sentinel = (await $`find ${outside} -printf '%p %y %s %T@\n'`).stdout;
  return `${sentinel}\n${readdirSync(scratch).sort().join(' ')}\n${(await $`find /run -xdev -name ${`*${MARK}*`}`.nothrow()).stdout}`;
}

test(`${MUTANTS} mutants of valid archives: every one refused cleanly or unpacked inside; zero crashes, zero escapes`, async () => {
  const bases = await baseArchives();
  const rnd = random(23);
  const path = join(scratch, 'mutant.tar');
  writeFileSync(path, '');
  const before = await outsideState();
  let refused = 0;
  let unpacked = 0;
  const crashes: string[] = [];
  for (let i = 0; i < MUTANTS; i++) {
    writeFileSync(path, mutate(bases[i % bases.length]!, rnd));
    mkdirSync(join(trees, `t${i}`, 'var'), { recursive: true });
    const root = tree(i);
    const hash = treeHash(root);
    try {
      await unpackArchive(root, { variable: 'GUEST_HOOKS_TARBALL', path, compression: 'none' });
      unpacked++;
    } catch (e) {
      if (!(e instanceof BuildError) || e.message.includes('\n') || !e.message.startsWith(`GUEST_HOOKS_TARBALL=${path}`)) crashes.push(`mutant ${i}: ${(e as Error).stack}`);
      else if (treeHash(root) !== hash || !e.message.includes('nothing was unpacked')) crashes.push(`mutant ${i}: failed after writing: ${e.message}`);
      else refused++;
    }
    assert.equal(readdirSync(trees), [`t${i}`], `mutant ${i}: nothing beside the tree`);
    rmSync(root, { recursive: true, force: true });
  }
  const escaped = (await outsideState()) === before ? 0 : 1;
  console.log(`  ${MUTANTS} mutants: ${refused} refused, ${unpacked} unpacked, ${crashes.length} crashed, ${escaped ? 'ESCAPED' : '0 escaped'}`);
  assert.equal(crashes, []);
  assert.is(escaped, 0, 'nothing outside the trees changed');
  assert.ok(refused > MUTANTS / 4 && unpacked > 10, 'the mutants exercise both outcomes');
});

test.run();
