// initrd.ts end to end on a synthetic tree: the archive lists exactly the
// tree plus /init, builds are reproducible under SOURCE_DATE_EPOCH, and bad
// input gives one ERROR line and no output.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { archiveListing, initrdMembers, listingDiff, treeListing } from '../helpers/initrd-listing.ts';
import { makeSyntheticRootfs } from '../helpers/synthetic-rootfs.ts';

const repo = new URL('../../', import.meta.url).pathname;
const tsx = join(repo, 'node_modules/.bin/tsx');
const work = mkdtempSync(join(tmpdir(), 'initrd-test-'));
const tree = join(work, 'rootfs');
const EPOCH = '1700000000';

function runInitrd(args: string[], env: Record<string, string> = {}, cwd = work) {
  const base = { ...process.env };
  for (const k of ['INITRD_IMAGE', 'AGENT_INIT', 'AGENT_BIN', 'INITRD_COMPRESSION', 'SOURCE_DATE_EPOCH']) delete base[k];
  return $({ cwd, env: { ...base, ...env }, nothrow: true })`${tsx} ${join(repo, 'initrd.ts')} ${args}`;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ERROR:'));

test.before(async () => {
  mkdirSync(tree);
  await makeSyntheticRootfs(tree, await testAgentBinary());
});
test.after(() => rmSync(work, { recursive: true, force: true }));

/** AGENT_INIT=no (the default): /init -> /lib/systemd/systemd, as upstream main; yes: /sbin/init. */
async function expectSameAsTree(initrd: string, init = '/lib/systemd/systemd') {
  const expected = await treeListing(tree);
  expected.set('init', { mode: '120777', uid: 0, gid: 0, size: init.length, target: init });
  const diffs = listingDiff(expected, archiveListing(await initrdMembers(initrd)));
  assert.equal(diffs, [], diffs.join('\n'));
}

test('the archive lists the tree (paths, types, modes, owners, sizes, targets, contents) plus /init', async () => {
  const out = join(work, 'listing.img');
  const r = await runInitrd(['-o', out, tree]);
  assert.is(r.exitCode, 0, r.stderr);
  await expectSameAsTree(out);
  assert.not.ok(existsSync(join(tree, 'init')), 'the rootfs directory is not modified');
  // GNU cpio reads it too, names sorted, root first.
  const names = (await $({ cwd: work })`gzip -dc ${out} | cpio -it --quiet`).stdout.trim().split('\n');
  assert.is(names[0], '.');
  const rest = names.slice(1);
  assert.equal(rest, [...rest].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  assert.is(names.length, (await treeListing(tree)).size + 1);
});

test('/init as upstream main: -> /sbin/init with AGENT_INIT=yes, -> /lib/systemd/systemd (warned when absent) without', async () => {
  const out = join(work, 'agent-init.img');
  const r = await runInitrd(['-o', out, tree], { AGENT_INIT: 'yes' });
  assert.is(r.exitCode, 0, r.stderr);
  await expectSameAsTree(out, '/sbin/init');
  assert.not.match(r.stderr, /WARNING/);
  const no = await runInitrd(['-o', join(work, 'systemd-init.img'), tree]);
  assert.match(no.stderr, /^WARNING: \/init -> \/lib\/systemd\/systemd, but the rootfs has no lib\/systemd\/systemd/m);
});

test('zstd and uncompressed archives carry the same tree', async () => {
  for (const compression of ['zstd', 'none']) {
    const out = join(work, `${compression}.img`);
    const r = await runInitrd(['-o', out, tree], { INITRD_COMPRESSION: compression });
    assert.is(r.exitCode, 0, r.stderr);
    const magic = readFileSync(out).subarray(0, 6);
    assert.ok(compression === 'zstd' ? magic.readUInt32LE(0) === 0xfd2fb528 : magic.toString() === '070701', compression);
    await expectSameAsTree(out);
  }
});

test('SOURCE_DATE_EPOCH: same tree in another place at another time gives the same bytes', async () => {
  const copy = join(work, 'elsewhere', 'copy-of-rootfs');
  mkdirSync(join(work, 'elsewhere'));
  await $`cp -a ${tree} ${copy}`;
  await $`find ${copy} -exec touch -h {} +`; // newer mtimes than the original, all after EPOCH
  const a = join(work, 'a.img');
  const b = join(work, 'b.img');
  assert.is((await runInitrd(['-o', a, tree], { SOURCE_DATE_EPOCH: EPOCH })).exitCode, 0);
  assert.is((await runInitrd(['-o', b, copy], { SOURCE_DATE_EPOCH: EPOCH }, copy)).exitCode, 0);
  assert.is(sha256(a), sha256(b));
  const gz = readFileSync(a);
  assert.is(gz.readUInt32LE(4), 0, 'gzip header mtime is 0');
  assert.is(gz[3], 0, 'gzip header has no name');
  for (const m of await initrdMembers(a)) assert.ok(m.c_mtime <= Number(EPOCH), m.name);

  for (const compression of ['zstd', 'none']) {
    const za = join(work, `a-${compression}.img`);
    const zb = join(work, `b-${compression}.img`);
    await runInitrd(['-o', za, tree], { SOURCE_DATE_EPOCH: EPOCH, INITRD_COMPRESSION: compression });
    await runInitrd(['-o', zb, copy], { SOURCE_DATE_EPOCH: EPOCH, INITRD_COMPRESSION: compression });
    assert.is(sha256(za), sha256(zb), compression);
  }

  writeFileSync(join(copy, 'etc/hostname'), 'other\n');
  assert.is((await runInitrd(['-o', b, copy], { SOURCE_DATE_EPOCH: EPOCH })).exitCode, 0);
  assert.is.not(sha256(a), sha256(b), 'a changed file changes the initrd');
  rmSync(join(work, 'elsewhere'), { recursive: true, force: true });
});

test('INITRD_IMAGE names the output; -o wins over it', async () => {
  const env = join(work, 'from-env.img');
  assert.is((await runInitrd([tree], { INITRD_IMAGE: env })).exitCode, 0);
  assert.ok(existsSync(env));
  const flag = join(work, 'from-flag.img');
  assert.is((await runInitrd(['-o', flag, tree], { INITRD_IMAGE: join(work, 'not-this.img') })).exitCode, 0);
  assert.ok(existsSync(flag));
  assert.not.ok(existsSync(join(work, 'not-this.img')));
});

test('a distro name packs ./DISTRO_rootfs into kata-containers-initrd-DISTRO.img', async () => {
  const cwd = join(work, 'distro-cwd');
  mkdirSync(cwd);
  symlinkSync(tree, join(cwd, 'debian_rootfs'));
  const r = await runInitrd(['debian'], {}, cwd);
  assert.is(r.exitCode, 0, r.stderr);
  assert.ok(existsSync(join(cwd, 'kata-containers-initrd-debian.img')));
});

test('checks as upstream: sbin/init, agent unless AGENT_INIT=yes, AGENT_BIN', async () => {
  const bad = join(work, 'bad');
  mkdirSync(join(bad, 'usr/bin'), { recursive: true });
  const out = join(work, 'bad.img');
  let r = await runInitrd(['-o', out, bad]);
  assert.is(r.exitCode, 1);
  assert.equal(errorLines(r.stderr), [`ERROR: /sbin/init is not installed in ${bad}`]);

  await $`cp -a ${join(tree, 'sbin')} ${bad}/`;
  r = await runInitrd(['-o', out, bad]);
  assert.is(r.exitCode, 1);
  assert.match(errorLines(r.stderr).join('\n'), /\/usr\/bin\/kata-agent is not installed .*AGENT_BIN/);
  assert.is((await runInitrd(['-o', out, bad], { AGENT_INIT: 'yes' })).exitCode, 0);
  unlinkSync(out);

  await $`cp ${join(tree, 'sbin/init')} ${join(bad, 'usr/bin/my-agent')}`;
  assert.is((await runInitrd(['-o', out, bad], { AGENT_BIN: 'my-agent' })).exitCode, 0);
  assert.ok(existsSync(out));
});

test('bad input: one ERROR line, exit 1, nothing written', async () => {
  const out = join(work, 'never.img');
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['-o', out, join(work, 'missing')], {}, /is not a directory/],
    [['-o', out, '/'], { AGENT_INIT: 'yes' }, /refusing to pack the host root directory/],
    [['-o', out, tree], { INITRD_COMPRESSION: 'lzma' }, /INITRD_COMPRESSION=lzma is not valid/],
    [['-o', out, tree], { AGENT_INIT: 'maybe' }, /AGENT_INIT=maybe is not valid/],
    [['-o', out, tree], { SOURCE_DATE_EPOCH: 'yesterday' }, /SOURCE_DATE_EPOCH=yesterday is not a whole number/],
    [['-x', tree], {}, /unknown option -x/],
    [[], {}, /give one rootfs directory/],
    [['-o', join(tree, 'etc/in-tree.img'), tree], {}, /inside the rootfs/],
    [['-o', join(work, 'no-such-dir/x.img'), tree], {}, /does not exist/],
  ];
  for (const [args, env, message] of cases) {
    const r = await runInitrd(args, env);
    assert.is(r.exitCode, 1, args.join(' '));
    const errors = errorLines(r.stderr);
    assert.is(errors.length, 1, r.stderr);
    assert.match(errors[0]!, message);
  }
  assert.not.ok(existsSync(out));
  assert.not.ok(existsSync(join(tree, 'etc/in-tree.img')));
  assert.equal(readdirSync(work).filter((f) => f.includes('.tmp')), [], 'no temporary files left');
});

test('-h shows the options and variables, exit 0', async () => {
  const r = await runInitrd(['-h']);
  assert.is(r.exitCode, 0);
  for (const word of ['-o', 'INITRD_IMAGE', 'AGENT_BIN', 'AGENT_INIT', 'INITRD_COMPRESSION', 'SOURCE_DATE_EPOCH']) {
    assert.ok(r.stdout.includes(word), word);
  }
});

test.run();
