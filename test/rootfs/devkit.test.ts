// kata-deploy's two devkit commands, run as it runs them but on the host (no
// USE_DOCKER) through upstream's script paths: rootfs-builder/rootfs.sh
// devkit (ROOTFS_ONLY, OS_VERSION=resolute from the stand-in Ubuntu archive), then image-builder/image_builder.sh into a measured
// erofs extension. The image and root hash are cached (test/helpers/cache.ts)
// under a key of every builder input; the checks read the image itself:
// partitions, `veritysetup verify`, then the erofs contents, and the helper
// scripts run from the mounted extension in a private mount namespace.
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { entryExists } from '../../lib/core/fs-checks.ts';
import { manifestPath } from '../../lib/rootfs/manifest.ts';
import { cached, cacheRoot, hashFiles, hashOf } from '../helpers/cache.ts';
import { cleanEnv, importClosure, repoRoot, rootfsBuilderInputs } from '../helpers/rootfs-fixture.ts';
import { STAND_IN_DEVKIT, withStandInArchive } from '../helpers/devkit-archive.ts';

const IMAGE = 'kata-containers-devkit-extension.img';
const HASH = 'root_hash_devkit-extension.txt';
const work = mkdtempSync('/var/tmp/osbuilder-devkit-test-');
test.after(() => rmSync(work, { recursive: true, force: true }));

/** The two commands of kata-deploy-binaries.sh's install_image_devkit_extension, USE_DOCKER left out. */
async function buildExtension(out: string): Promise<void> {
  await withStandInArchive((archive) => runCommands(out, archive));
}

async function runCommands(out: string, archive: Record<string, string>): Promise<void> {
  const rootfs = mkdtempSync(join(out, '.devkit-extension-rootfs.'));
  const env = { ...cleanEnv(), PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), ...archive };
  const r = await $({ env: { ...env, ROOTFS_ONLY: 'yes', ROOTFS_DIR: rootfs, AGENT_INIT: 'no', AGENT_POLICY: 'no', AGENT_TARBALL: '' }, nothrow: true })`${join(repoRoot, 'rootfs-builder/rootfs.sh')} devkit`;
  if (r.exitCode !== 0) throw new Error(`rootfs.sh devkit failed:\n${r.stdout}\n${r.stderr}`);
  const rootMode = (lstatSync(rootfs).mode & 0o7777).toString(8);
  const imageEnv = { ...env, BUILD_VARIANT: 'devkit-extension', FS_TYPE: 'erofs', MEASURED_ROOTFS: 'yes', SKIP_DAX_HEADER: 'yes', SKIP_ROOTFS_CHECK: 'yes' };
  const i = await $({ env: imageEnv, nothrow: true })`${join(repoRoot, 'image-builder/image_builder.sh')} -o ${join(out, IMAGE)} ${rootfs}`;
  if (i.exitCode !== 0) throw new Error(`image_builder.sh failed:\n${i.stdout}\n${i.stderr}`);
  mkdirSync(join(out, 'facts'));
  await $`printf %s ${rootMode} > ${join(out, 'facts/root-mode')}`;
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(manifestPath(rootfs), { force: true });
}

const extension = () =>
  cached('devkit-extension', hashOf(hashFiles(...new Set([...rootfsBuilderInputs('devkit'), ...importClosure('image.ts'), 'rootfs-builder/rootfs.sh', 'image-builder/image_builder.sh'])), JSON.stringify(STAND_IN_DEVKIT)), buildExtension);


interface Part {
  start: number;
  size: number;
}
const partsOf = async (image: string): Promise<Part[]> =>
  (JSON.parse((await $`sfdisk -J ${image}`).stdout) as { partitiontable: { partitions: Part[] } }).partitiontable.partitions;

/** p1 (the erofs filesystem) as a file of its own. */
async function dataPartition(dir: string): Promise<string> {
  const [p1] = await partsOf(join(dir, IMAGE));
  const file = join(work, 'p1.erofs');
  await $`dd status=none if=${join(dir, IMAGE)} of=${file} bs=512 skip=${p1!.start} count=${p1!.size}`;
  return file;
}

test('the devkit extension and its root hash, where kata-deploy takes them; veritysetup verify accepts it', async () => {
  const dir = await extension();
  const image = join(dir, IMAGE);
  const parts = await partsOf(image);
  assert.is(parts.length, 2, 'data and hash partitions');
  const line = readFileSync(join(dir, HASH), 'utf8').trim();
  assert.match(line, /^root_hash=[0-9a-f]{64},salt=[0-9a-f]{64},data_blocks=\d+,data_block_size=4096,hash_block_size=4096$/);
  const p = Object.fromEntries(line.split(',').map((kv) => kv.split('=') as [string, string]));
  const loop = async (part: Part) => (await $`losetup -r -f --show -o ${part.start * 512} --sizelimit ${part.size * 512} ${image}`).stdout.trim();
  const [d, h] = [await loop(parts[0]!), await loop(parts[1]!)];
  try {
    const v = await $({ nothrow: true })`veritysetup verify --no-superblock --salt=${p.salt!} --data-blocks=${p.data_blocks!} --data-block-size=4096 --hash-block-size=4096 ${d} ${h} ${p.root_hash!}`;
    assert.is(v.exitCode, 0, v.stderr);
  } finally {
    await $({ nothrow: true })`losetup -d ${d} ${h}`;
  }
  assert.is(readFileSync(join(dir, 'facts/root-mode'), 'utf8'), '755', 'the tree root is 0755');
});

test('inside: static busybox.static, the helper scripts 0755 root, devkit-sh, apt as root, sticky /tmp, no resolv.conf/hostname, trimmed', async () => {
  const x = join(work, 'x');
  await $`fsck.erofs --force --extract=${x} ${await dataPartition(await extension())}`;
  const mode = (rel: string) => lstatSync(join(x, rel)).mode & 0o7777;
  assert.match((await $`file -b ${join(x, 'usr/bin/busybox.static')}`).stdout, /statically linked/);
  for (const name of ['devkit-init', 'devkit-enter', 'devkit-add-nvidia-repos']) {
    const st = lstatSync(join(x, 'usr/bin', name));
    assert.is(st.mode & 0o7777, 0o755, name);
    assert.is(`${st.uid}:${st.gid}`, '0:0', name);
  }
  assert.is(readlinkSync(join(x, 'usr/bin/devkit-sh')), 'devkit-enter');
  assert.is(mode('.'), 0o755);
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
});

test('devkit-enter from the mounted extension: overlay root, guest resolver, /real_root, hostname devkit, a writable root with apt', async () => {
  const p1 = await dataPartition(await extension());
  const ext = join(work, 'extensions');
  const devkit = join(ext, 'devkit');
  const writable = join(work, 'writable');
  mkdirSync(devkit, { recursive: true });
  // A private mount namespace: every mount the scripts make goes with it.
  const script = [
    `mount -t erofs -o ro,loop ${p1} ${devkit}`,
    `EXTENSIONS_ROOT=${ext} DEVKIT=${devkit} WRITABLE=${writable} ${devkit}/usr/bin/busybox.static sh ${devkit}/usr/bin/devkit-enter -c 'hostname; . /etc/os-release; echo "id=$ID"; test -L /real_root && echo real_root; touch /made && echo writable; apt-get --version | head -n1; echo "path=$PATH"'`,
  ].join(' && ');
  const r = await $({ nothrow: true })`unshare --mount --propagation private sh -c ${script}`;
  assert.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines[0], 'devkit');
  assert.is(lines[1], `id=${readFileSync('/etc/os-release', 'utf8').match(/^ID=(\S+)$/m)![1]}`);
  assert.equal(lines.slice(2, 4), ['real_root', 'writable']);
  assert.match(lines[4]!, /^apt \d/);
  assert.is(lines[5], 'path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  assert.equal(readdirSync(devkit), [], 'the extension was mounted in the namespace only');
});

test.run();
