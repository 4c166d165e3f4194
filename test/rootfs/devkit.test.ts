// kata-deploy's two devkit commands, run as it runs them but on the host (no
// USE_DOCKER) through upstream's script paths: rootfs-builder/rootfs.sh
// devkit (ROOTFS_ONLY, OS_VERSION=resolute from the stand-in Ubuntu archive), then image-builder/image_builder.sh into a measured
// erofs extension. The image and root hash are cached (test/helpers/cache.ts)
// under a key of every builder input; the checks read the image itself:
// partitions, `veritysetup verify`, then the erofs contents (the checks
// shared with the non-root docker build, test/helpers/devkit-checks.ts), and
// the helper scripts run from the mounted extension in a private mount namespace.
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { manifestPath } from '../../lib/rootfs/manifest.ts';
import { cached, cacheRoot, hashFiles, hashOf } from '../helpers/cache.ts';
import { cleanEnv, importClosure, repoRoot, rootfsBuilderInputs } from '../helpers/rootfs-fixture.ts';
import { STAND_IN_DEVKIT, withStandInArchive } from '../helpers/devkit-archive.ts';
import { DEVKIT_IMAGE, DEVKIT_ROOT_HASH, assertDevkitTree, assertVerifiedExtension, dataPartition, extractExtension } from '../helpers/devkit-checks.ts';

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
  const i = await $({ env: imageEnv, nothrow: true })`${join(repoRoot, 'image-builder/image_builder.sh')} -o ${join(out, DEVKIT_IMAGE)} ${rootfs}`;
  if (i.exitCode !== 0) throw new Error(`image_builder.sh failed:\n${i.stdout}\n${i.stderr}`);
  mkdirSync(join(out, 'facts'));
  await $`printf %s ${rootMode} > ${join(out, 'facts/root-mode')}`;
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(manifestPath(rootfs), { force: true });
}

const extension = () =>
  cached('devkit-extension', hashOf(hashFiles(...new Set([...rootfsBuilderInputs('devkit'), ...importClosure('image.ts'), 'rootfs-builder/rootfs.sh', 'image-builder/image_builder.sh'])), JSON.stringify(STAND_IN_DEVKIT)), buildExtension);


test('the devkit extension and its root hash, where kata-deploy takes them; veritysetup verify accepts it', async () => {
  const dir = await extension();
  await assertVerifiedExtension(join(dir, DEVKIT_IMAGE), join(dir, DEVKIT_ROOT_HASH));
  assert.is(readFileSync(join(dir, 'facts/root-mode'), 'utf8'), '755', 'the tree root is 0755');
});

test('inside: static busybox.static, the helper scripts 0755 root, devkit-sh, apt as root, sticky /tmp, no resolv.conf/hostname, trimmed', async () => {
  await assertDevkitTree(await extractExtension(join(await extension(), DEVKIT_IMAGE), join(work, 'x'), join(work, 'p1.erofs')));
});

test('devkit-enter from the mounted extension: overlay root, guest resolver, /real_root, hostname devkit, a writable root with apt', async () => {
  const p1 = await dataPartition(join(await extension(), DEVKIT_IMAGE), join(work, 'p1.erofs'));
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
