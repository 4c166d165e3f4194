// What a devkit extension image must be, read from the image itself: the
// two partitions, `veritysetup verify` with its root-hash line, and the
// erofs contents (the static busybox, the helper scripts 0755 root, no
// resolv.conf/hostname, the trims). test/rootfs/devkit.test.ts (root, on the
// host) and test/container/nonroot.test.ts (kata-deploy's non-root builder,
// USE_DOCKER=1) check their extensions with the same assertions.
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { entryExists } from '../../lib/core/fs-checks.ts';

export const DEVKIT_IMAGE = 'kata-containers-devkit-extension.img';
export const DEVKIT_ROOT_HASH = 'root_hash_devkit-extension.txt';

interface Part {
  start: number;
  size: number;
}
const partsOf = async (image: string): Promise<Part[]> =>
  (JSON.parse((await $`sfdisk -J ${image}`).stdout) as { partitiontable: { partitions: Part[] } }).partitiontable.partitions;

/** Two partitions, the root-hash file one line of upstream's fields, and `veritysetup verify` accepts p1 and p2 with them. */
export async function assertVerifiedExtension(image: string, rootHashFile: string): Promise<void> {
  const parts = await partsOf(image);
  assert.is(parts.length, 2, 'data and hash partitions');
  const line = readFileSync(rootHashFile, 'utf8').trim();
  assert.match(line, /^root_hash=[0-9a-f]{64},salt=[0-9a-f]{64},data_blocks=\d+,data_block_size=4096,hash_block_size=4096$/);
  const p = Object.fromEntries(line.split(',').map((kv) => kv.split('=') as [string, string]));
  const loop = async (part: Part) => (await $`losetup -r -f --show -o ${part.start * 512} --sizelimit ${part.size * 512} ${image}`).stdout.trim();
  const d = await loop(parts[0]!);
  const h = await loop(parts[1]!).catch(async (e) => {
    await $({ nothrow: true })`losetup -d ${d}`;
    throw e;
  });
  try {
    const v = await $({ nothrow: true })`veritysetup verify --no-superblock --salt=${p.salt!} --data-blocks=${p.data_blocks!} --data-block-size=4096 --hash-block-size=4096 ${d} ${h} ${p.root_hash!}`;
    assert.is(v.exitCode, 0, v.stderr);
  } finally {
    await $({ nothrow: true })`losetup -d ${d} ${h}`;
  }
}

/** p1 (the erofs filesystem) of `image` as the file `out`. */
export async function dataPartition(image: string, out: string): Promise<string> {
  const [p1] = await partsOf(image);
  await $`dd status=none if=${image} of=${out} bs=512 skip=${p1!.start} count=${p1!.size}`;
  return out;
}

/** The extension's files extracted into `dir` (owners and modes kept: run as root); `scratch` holds p1 meanwhile. */
export async function extractExtension(image: string, dir: string, scratch: string): Promise<string> {
  await $`fsck.erofs --force --extract=${dir} ${await dataPartition(image, scratch)}`;
  await $`rm -f ${scratch}`;
  return dir;
}

/** The devkit's files in the extracted tree `x`, as lib/rootfs/devkit.ts makes them. */
export async function assertDevkitTree(x: string): Promise<void> {
  const mode = (rel: string) => lstatSync(join(x, rel)).mode & 0o7777;
  assert.match((await $`file -b ${join(x, 'usr/bin/busybox.static')}`).stdout, /statically linked/);
  for (const name of ['devkit-init', 'devkit-enter', 'devkit-add-nvidia-repos']) {
    const st = lstatSync(join(x, 'usr/bin', name));
    assert.is(st.mode & 0o7777, 0o755, name);
    assert.is(`${st.uid}:${st.gid}`, '0:0', name);
  }
  assert.is(readlinkSync(join(x, 'usr/bin/devkit-sh')), 'devkit-enter');
  assert.is(mode('.'), 0o755, 'the tree root is 0755');
  assert.is(`${lstatSync(x).uid}:${lstatSync(x).gid}`, '0:0', 'the tree root is root\'s');
  assert.is(mode('tmp'), 0o1777);
  assert.is(readFileSync(join(x, 'etc/apt/apt.conf.d/99-devkit.conf'), 'utf8'), 'APT::Sandbox::User "root";\n');
  for (const rel of ['etc/resolv.conf', 'etc/hostname']) assert.not.ok(entryExists(join(x, rel)), rel);
  for (const rel of ['usr/share/doc', 'usr/share/man', 'var/lib/apt/lists', 'var/cache/apt']) assert.equal(readdirSync(join(x, rel)), [], rel);
  // The prebaked tools are there (a few of the list), and apt with them.
  for (const tool of ['bash', 'strace', 'ltrace', 'lsof', 'tcpdump', 'ip', 'curl', 'apt-get', 'unshare', 'dig', 'nc.openbsd']) {
    // lstat: a link is there as an entry (an absolute one would lead out of the extracted tree).
    assert.ok(['usr/bin', 'usr/sbin'].some((d) => entryExists(join(x, d, tool))), tool);
  }
  // Without a CUDA pin the nvidia helper refuses, saying how to configure it.
  const nv = await $({ nothrow: true })`chroot ${x} /usr/bin/devkit-add-nvidia-repos`;
  assert.is(nv.exitCode, 1);
  assert.match(nv.stderr, /^devkit-add-nvidia-repos: this devkit was built without a CUDA repository pin: rebuild it with KATA_VERSIONS_FILE/m);
}
