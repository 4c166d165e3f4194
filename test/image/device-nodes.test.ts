// The device nodes of a tree's table (lib/core/device-nodes.ts), made by each
// packer itself: read back from the ext4 image (debugfs stat), the erofs
// image (fsck.erofs --extract, and the very bytes mkfs.erofs writes from
// real nodes), the xfs image (the same bytes as from real nodes; xfs_db
// by the copy route) and the
// initrd (cpio's listing). A node the tree holds itself is packed as it is;
// a bad table line is one ERROR, nothing written.
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { DEVICE_NODE_TABLE, deviceNodeTableText, type DeviceNode } from '../../lib/core/device-nodes.ts';
import { DEVICE_NODES } from '../../lib/rootfs/debian-tree.ts';
import { repoRoot, runImageTs, syntheticRootfs } from '../helpers/image-fixture.ts';
import { xfsListing } from '../helpers/image-readback.ts';

const EPOCH = '1700000000';
const work = mkdtempSync('/var/tmp/osb-device-nodes-');
const ROOTFS_AT = 3 << 20; // partition 1 behind the DAX header
/** The Debian table, less dev/null (the tree has its own, made 0644), plus a block device with a group. */
const TABLE: DeviceNode[] = [...DEVICE_NODES, { rel: 'dev/vda', type: 'block', major: 254, minor: 0, perm: 0o660, uid: 0, gid: 6 }];
const ADDED = TABLE.filter((n) => n.rel !== 'dev/null');
let withTable: string;
let withNodes: string;

test.after(() => rmSync(work, { recursive: true, force: true }));

test.before(async () => {
  withTable = await syntheticRootfs(work);
  writeFileSync(join(withTable, DEVICE_NODE_TABLE), deviceNodeTableText(TABLE));
  await $`install -D -m 755 /bin/true ${join(withTable, 'usr/bin/kata-agent')}`; // initrd.ts looks for the agent
  // The same tree with the nodes made as root used to make them: what the packers must give from the table.
  withNodes = join(work, 'with-nodes');
  await $`cp -a ${withTable} ${withNodes}`;
  for (const n of ADDED) await $`mknod -m ${n.perm.toString(8)} ${join(withNodes, n.rel)} ${n.type === 'char' ? 'c' : 'b'} ${n.major} ${n.minor}`;
  await $`chown 0:6 ${join(withNodes, 'dev/vda')}`;
  await $`touch -r ${join(withTable, 'dev')} ${join(withNodes, 'dev')}`;
  assert.is(lstatSync(join(withTable, 'dev/null')).mode & 0o777, 0o644, 'the tree\'s own dev/null');
});

const image = async (tree: string, name: string, fs: string) => {
  const out = join(work, name);
  const r = await runImageTs(['-f', fs, '-o', out, tree], { AGENT_INIT: 'no', SOURCE_DATE_EPOCH: EPOCH });
  assert.is(r.exitCode, 0, r.stderr);
  return out;
};
const same = async (a: string, b: string) => (await $({ nothrow: true })`cmp ${a} ${b}`).exitCode === 0;

test('ext4: debugfs reads each node of the table back with its type, major:minor, mode and owner; the tree\'s own dev/null as it is', async () => {
  const img = await image(withTable, 'table.ext4.img', 'ext4');
  const stat = async (rel: string) => (await $`debugfs -R ${`stat /${rel}`} ${`${img}?offset=${ROOTFS_AT}`}`).stdout;
  for (const n of ADDED) {
    const s = await stat(n.rel);
    assert.match(s, new RegExp(`Type: ${n.type === 'char' ? 'character' : 'block'} special\\s+Mode:\\s+0${n.perm.toString(8)}\\s`), `${n.rel}: ${s}`);
    assert.match(s, new RegExp(`User:\\s+${n.uid}\\s+Group:\\s+${n.gid}\\s`), n.rel);
    assert.match(s, new RegExp(`Device major/minor number: ${String(n.major).padStart(2, '0')}:${String(n.minor).padStart(2, '0')} `), `${n.rel}: ${s}`);
    assert.match(s, new RegExp(`mtime: 0x${Number(EPOCH).toString(16)}:`), n.rel);
  }
  assert.match(await stat('dev/null'), /Type: character special\s+Mode:\s+0644\s/, 'the tree\'s dev/null, not the table\'s 0666');
  const fsck = await $({ nothrow: true })`e2fsck -fn ${`${img}?offset=${ROOTFS_AT}`}`;
  assert.is(fsck.exitCode, 0, fsck.stdout);
});

test('erofs: the bytes mkfs.erofs writes from real nodes; fsck.erofs --extract gives the nodes back', async () => {
  const img = await image(withTable, 'table.erofs.img', 'erofs');
  assert.ok(await same(img, await image(withNodes, 'nodes.erofs.img', 'erofs')), 'the same image as from a tree holding the nodes');
  const fsFile = join(work, 'table.erofs.fs');
  await $`dd if=${img} of=${fsFile} bs=1M skip=${ROOTFS_AT} iflag=skip_bytes status=none`;
  const dir = join(work, 'extracted');
  await $`fsck.erofs --extract=${dir} ${fsFile}`;
  for (const n of ADDED) {
    const st = lstatSync(join(dir, n.rel));
    assert.ok(n.type === 'char' ? st.isCharacterDevice() : st.isBlockDevice(), n.rel);
    assert.equal([Math.floor(st.rdev / 256) & 0xfff, st.rdev & 0xff, st.mode & 0o7777, st.uid, st.gid], [n.major, n.minor, n.perm, n.uid, n.gid], n.rel);
  }
  assert.is(lstatSync(join(dir, 'dev/null')).mode & 0o777, 0o644);
  assert.ok(existsSync(join(dir, 'dev/fifo')) && lstatSync(join(dir, 'dev/loop9')).isBlockDevice(), 'the tree\'s other nodes packed');
});

test('xfs (protofile): the bytes of the tree holding the nodes', async () => {
  assert.ok(await same(await image(withTable, 'table.xfs.img', 'xfs'), await image(withNodes, 'nodes.xfs.img', 'xfs')));
});

test('xfs through the loop-mount copy (a tree with an xattr): xfs_db reads each node back', async () => {
  const tree = join(work, 'with-xattr');
  await $`cp -a ${withTable} ${tree}`;
  await $`setfattr -n user.osb -v 1 ${join(tree, 'etc/sgid')}`;
  const img = await image(tree, 'xattr.xfs.img', 'xfs');
  const fsFile = join(work, 'xattr.xfs.fs');
  await $`dd if=${img} of=${fsFile} bs=1M skip=${ROOTFS_AT} iflag=skip_bytes status=none`;
  const listing = await xfsListing(fsFile);
  for (const n of ADDED) assert.equal(listing.get(n.rel), { type: n.type === 'char' ? 'c' : 'b', perm: n.perm.toString(8), uid: n.uid, gid: n.gid }, n.rel);
  assert.equal(listing.get('dev/null')?.perm, '644');
});

test('initrd: cpio lists each node; the bytes of the tree holding the nodes', async () => {
  const initrd = async (tree: string, name: string) => {
    const out = join(work, name);
    const r = await $({ nothrow: true, cwd: repoRoot, env: { ...process.env, AGENT_INIT: 'no', SOURCE_DATE_EPOCH: EPOCH, INITRD_COMPRESSION: 'none' } })`node_modules/.bin/tsx initrd.ts -o ${out} ${tree}`;
    assert.is(r.exitCode, 0, r.stderr);
    return out;
  };
  const a = await initrd(withTable, 'table.initrd');
  assert.ok(await same(a, await initrd(withNodes, 'nodes.initrd')));
  const listing = (await $`cpio -itv --numeric-uid-gid --quiet < ${a}`).stdout.split('\n');
  for (const n of ADDED) {
    const perm = [6, 3, 0].map((s) => ((n.perm >> s) & 7)).map((b) => `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`).join('');
    assert.ok(listing.some((l) => new RegExp(`^${n.type === 'char' ? 'c' : 'b'}${perm}\\s+1 ${n.uid}\\s+${n.gid}\\s+${n.major},\\s+${n.minor} .* ${n.rel}$`).test(l)), `${n.rel}:\n${listing.filter((l) => l.includes(' dev/')).join('\n')}`);
  }
});

test('a bad line in the table: one ERROR naming it, nothing written', async () => {
  writeFileSync(join(withTable, DEVICE_NODE_TABLE), `${deviceNodeTableText(TABLE)}dev/bad x 1 2 0600 0 0\n`);
  const out = join(work, 'bad');
  await $`mkdir -p ${out}`;
  const r = await runImageTs(['-o', join(out, 'bad.img'), withTable], { AGENT_INIT: 'no' });
  assert.is(r.exitCode, 1, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.equal(errors, [`ERROR: ${DEVICE_NODE_TABLE} line 12 is not "PATH c|b MAJOR MINOR MODE UID GID" ("dev/bad x 1 2 0600 0 0"): fix or remove the line`]);
  assert.equal(readdirSync(out), []);
});

test.run();
