// kata-deploy's builder: a NON-ROOT user who may talk to docker runs the make
// lines of upstream's build_image.sh (USE_DOCKER=1, DISTRO=debian, an
// AGENT_TARBALL of the test agent) in its own copy of the project. Every step
// that needs root runs in a container: the artifacts land where build_image.sh
// takes them from (the osbuilder dir), belong to the user and boot to the
// agent; the guests whose distro stage is the same take the distro tree from
// the user's distro-tree cache (in the container); a rebuild replaces the
// root-owned tree, a killed build's staging dir is swept, and `make clean` and
// `make clean-cache` remove the trees, all through a container. (Without an engine: a rootless build, test/rootfs/rootless.test.ts.)
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import { $ } from '../../lib/core/exec.ts';
import { ensureBaseImage, startEngine, stopEngine } from '../../scripts/engines.ts';
import { AGENT_MARKER, testAgentBinary } from '../helpers/agent.ts';
import { debianBaseTarball } from '../helpers/engines.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { DEVKIT_IMAGE, DEVKIT_ROOT_HASH, assertDevkitTree, assertVerifiedExtension, extractExtension } from '../helpers/devkit-checks.ts';
import { makeAs, runAs, testUser, projectCopy, type TestUser } from '../helpers/nonroot-user.ts';
import { makeTar } from '../helpers/tar-writer.ts';
import { ensureUbuntuBaseImage, startUbuntuArchive, type UbuntuArchive } from '../helpers/ubuntu-archive.ts';

const USER = 'osb-nonroot';


/** The path (not what a link points to) belongs to `uid`. */
const ownedBy = (path: string, uid: number) => lstatSync(path).uid === uid;

const s = suite('non-root user with USE_DOCKER=1: build_image.sh make lines');

// The engine starts when this suite runs, not when the file is loaded: the
// container build suites, loaded first, stop theirs when they end.
let env: Record<string, string> = {};
const work = mkdtempSync('/var/tmp/osb-nonroot-');
const osbuilder = join(work, 'osbuilder');
const build = join(work, 'build');
const packages = join(cacheRoot, 'packages');
let user: TestUser;
const distroTrees = () => join(user.home, '.cache/osbuilder-ts/distro-trees');
const FROM_CACHE = /setup stage only \(distro tree from the cache\)/;
let ubuntu: UbuntuArchive | undefined;

/** `make ARGS` in the osbuilder dir, as the user, with only the environment build_image.sh's caller has. */
const makeAsUser = (args: string[], extra: Record<string, string> = {}) => makeAs(user, osbuilder, args, { ...env, ...extra });

s.before(async () => {
  env = (await startEngine('docker')).env;
  const socket = (env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
  user = await testUser(USER, { group: (await $`getent group ${statSync(socket).gid}`).stdout.split(':')[0]! });
  const tar = await debianBaseTarball();
  await ensureBaseImage('docker', env, tar);
  ubuntu = await startUbuntuArchive({ forContainers: true });
  await ensureUbuntuBaseImage('docker', env);
  // A CoCo guest-components tarball (what kata-deploy passes to the confidential targets).
  writeFileSync(join(work, 'coco.tar'), makeTar([
    { name: 'usr/local/bin/attestation-agent', data: '#!/bin/sh\n', mode: 0o755 },
    { name: 'etc/ocicrypt_config.json', data: '{"key-providers":{}}\n', mode: 0o644 },
  ]));
  await $`zstd -q --rm ${join(work, 'coco.tar')}`;
  await projectCopy(osbuilder);
  // The test agent as an agent tarball (what kata-deploy passes).
  const stage = join(work, 'agent-stage');
  mkdirSync(join(stage, 'usr/bin'), { recursive: true });
  cpSync(await testAgentBinary(), join(stage, 'usr/bin/kata-agent'));
  await $`tar --zstd -cf ${join(work, 'kata-static-agent.tar.zst')} -C ${stage} .`;
  mkdirSync(build);
  // Each run starts with the user's distro-tree cache empty (root may remove what the containers left in it).
  await $`rm -rf ${distroTrees()}`;
  mkdirSync(packages, { recursive: true }); // shared with the other tests: stays root's, the container keeps its owner
  await $`chown -R ${user.uid}:${user.gid} ${work}`;
});

s.after(async () => {
  await ubuntu?.stop();
  if (user) await $({ nothrow: true })`rm -rf ${work}`;
  await stopEngine('docker');
});

// build_image.sh's variables (KATA-DEPLOY.md "The call"), debian, the test agent as AGENT_TARBALL.
const common = () => [
  'DISTRO=debian', 'DEBUG=', 'USE_DOCKER=1', `AGENT_TARBALL=${join(work, 'kata-static-agent.tar.zst')}`, 'AGENT_POLICY=no',
  'COCO_GUEST_COMPONENTS_TARBALL=', 'PAUSE_IMAGE_TARBALL=', 'GUEST_HOOKS_TARBALL=',
];
// Four distro trees: the AGENT_INIT=no and =yes ones of debian and ubuntu (the default keeps three).
const runEnv = () => ({ IMAGE_REGISTRY: 'localhost', PACKAGE_CACHE_DIR: packages, MEASURED_ROOTFS: 'yes', DISTRO_CACHE_ENTRIES: '4' });

s('make image (measured base) and make initrd (AGENT_INIT=yes): owned by the user, where build_image.sh takes them, booting to the agent', async () => {
  const dest = join(build, 'rootfs-image');
  const start = Date.now();
  const image = await makeAsUser(['image', ...common(), 'BUILD_VARIANT=base', `ROOTFS_BUILD_DEST=${dest}`], runEnv());
  assert.is(image.exitCode, 0, `${image.stdout.slice(-3000)}\n${image.stderr.slice(-3000)}`);
  assert.not.match(image.stderr, /Permission denied|WARNING: could not keep the distro tree/);
  assert.match(image.stdout + image.stderr, /distro stage and setup/);
  assert.match(image.stdout + image.stderr, /Building the AGENT_INIT=yes tree first/, 'the image tree is built over the initrd\'s');
  const imageSeconds = (Date.now() - start) / 1000;
  for (const name of ['kata-containers.img', 'kata-containers.img.cdx.json', 'root_hash_base.txt']) {
    assert.ok(ownedBy(join(osbuilder, name), user.uid), `${name} in the osbuilder dir, the user's`);
  }
  assert.match(readFileSync(join(osbuilder, 'root_hash_base.txt'), 'utf8'), /^root_hash=[0-9a-f]{64},salt=[0-9a-f]{64},data_blocks=\d+,/);
  const tree = join(dest, 'debian_rootfs');
  assert.is(lstatSync(join(tree, 'usr/bin/kata-agent')).uid, 0, 'the guest tree keeps root as owner');
  assert.ok(ownedBy(join(dest, '.debian_rootfs.manifest.json'), user.uid) && ownedBy(join(dest, '.debian_rootfs.done'), user.uid), 'manifest and marker are the user\'s');
  assert.equal(readdirSync(dest).filter((n) => n.includes('.partial-') || n.includes('.old-')), [], 'no staging left');
  const bootImage = await bootGuest({ image: join(osbuilder, 'kata-containers.img') });
  assert.ok(bootImage.markerSeen, `${AGENT_MARKER} from the measured image; last lines:\n${bootImage.console.split('\n').slice(-15).join('\n')}`);
  assert.ok(bootImage.rootHashFile, 'booted through dm-verity with root_hash_base.txt');

  // A killed build's root-owned staging dir (its process gone): the next build sweeps it through a container.
  const stale = join(dest, '.debian_rootfs.partial-4194301');
  mkdirSync(join(stale, 'root'), { recursive: true, mode: 0o700 });
  writeFileSync(join(stale, 'root/secret'), '', { mode: 0o600 });
  // The initrd from the same ROOTFS_BUILD_DEST: AGENT_INIT changed, so the old root-owned tree is replaced.
  const t2 = Date.now();
  const initrd = await makeAsUser(['initrd', ...common(), 'BUILD_VARIANT=', 'AGENT_INIT=yes', `ROOTFS_BUILD_DEST=${dest}`], { ...runEnv(), MEASURED_ROOTFS: 'no' });
  assert.is(initrd.exitCode, 0, `${initrd.stdout.slice(-3000)}\n${initrd.stderr.slice(-3000)}`);
  // The container kept the AGENT_INIT=yes tree the image was built over: the initrd's distro stage is that entry.
  assert.match(initrd.stdout + initrd.stderr, FROM_CACHE, 'the initrd takes the AGENT_INIT=yes tree from the cache');
  assert.not.match(initrd.stderr, /Not using the cached distro tree|WARNING: could not keep the distro tree/);
  const initrdSeconds = (Date.now() - t2) / 1000;
  for (const name of ['kata-containers-initrd.img', 'kata-containers-initrd.img.cdx.json']) {
    assert.ok(ownedBy(join(osbuilder, name), user.uid), `${name} in the osbuilder dir, the user's`);
  }
  assert.ok(lstatSync(join(tree, 'sbin/init')).isFile(), 'the rebuilt tree has the agent as init');
  assert.equal(readdirSync(dest).filter((n) => n.includes('.partial-') || n.includes('.old-')), [], 'the old tree and the stale staging dir removed');
  const bootInitrd = await bootGuest({ initrd: join(osbuilder, 'kata-containers-initrd.img') });
  assert.ok(bootInitrd.markerSeen, `${AGENT_MARKER} from the initrd; last lines:\n${bootInitrd.console.split('\n').slice(-15).join('\n')}`);

  // make clean as the user: the root-owned tree goes through a container.
  const clean = await makeAsUser(['clean', 'DISTRO=debian', 'USE_DOCKER=1', `ROOTFS_BUILD_DEST=${dest}`]);
  assert.is(clean.exitCode, 0, clean.stderr);
  assert.not.ok(existsSync(tree), 'make clean removed the tree');
  assert.not.ok(existsSync(join(osbuilder, 'kata-containers.img')));
  console.log(`non-root make image: ${imageSeconds.toFixed(0)} s, make initrd (its distro tree from the cache): ${initrdSeconds.toFixed(0)} s`);
});

// build_image.sh's four guests of kata-deploy (rootfs-image, -confidential, rootfs-initrd, -confidential),
// each a make line of its own (the two images share ROOTFS_BUILD_DEST, as do the two initrds). Only the
// base runs a distro stage: the confidential ones take their distro tree from the cache (CONFIDENTIAL_GUEST
// changes the setup only), and the initrds the AGENT_INIT=yes tree the base was built over.
const KATA_DEPLOY_ARTIFACTS = [
  { name: 'measured base', target: 'image', dest: 'rootfs-image', vars: { BUILD_VARIANT: 'base' }, exported: { MEASURED_ROOTFS: 'yes' }, rootHash: 'root_hash_base.txt' },
  { name: 'confidential image', target: 'image', dest: 'rootfs-image', vars: { BUILD_VARIANT: 'confidential', COCO: true }, exported: { CONFIDENTIAL_GUEST: 'yes', MEASURED_ROOTFS: 'yes' }, rootHash: 'root_hash_confidential.txt' },
  { name: 'initrd', target: 'initrd', dest: 'initrd-image', vars: { BUILD_VARIANT: '', AGENT_INIT: 'yes' }, exported: { MEASURED_ROOTFS: 'no' } },
  { name: 'confidential initrd', target: 'initrd', dest: 'initrd-image', vars: { BUILD_VARIANT: 'confidential', AGENT_INIT: 'yes', COCO: true }, exported: { CONFIDENTIAL_GUEST: 'yes', MEASURED_ROOTFS: 'no' } },
] as const;

for (const distro of ['ubuntu', 'debian'] as const) {
  s(`kata-deploy's four guests, DISTRO=${distro}${distro === 'ubuntu' ? ' OS_VERSION=resolute (stand-in archive)' : ''}: the user's, where build_image.sh takes them, booting to the agent`, async () => {
    const times: string[] = [];
    for (const a of KATA_DEPLOY_ARTIFACTS) {
      // debian's plain base and initrd are the test above.
      if (distro === 'debian' && !('COCO' in a.vars)) continue;
      const dest = join(build, `${distro}-${a.dest}`);
      const vars = Object.entries(a.vars).filter(([k]) => k !== 'COCO').map(([k, v]) => `${k}=${v}`);
      const coco = 'COCO' in a.vars ? join(work, 'coco.tar.zst') : '';
      const line = [
        a.target, ...common().map((v) => (v === 'DISTRO=debian' ? `DISTRO=${distro}` : v.startsWith('COCO_GUEST') ? `COCO_GUEST_COMPONENTS_TARBALL=${coco}` : v)),
        ...(distro === 'ubuntu' ? ['OS_VERSION=resolute'] : []), ...vars, `ROOTFS_BUILD_DEST=${dest}`,
      ];
      const exported = { ...runEnv(), ...a.exported, ...(distro === 'ubuntu' ? { REPO_URL: ubuntu!.repoUrl } : {}) };
      const start = Date.now();
      const out = await makeAsUser(line, exported);
      assert.is(out.exitCode, 0, `${a.name}: ${out.stdout.slice(-3000)}\n${out.stderr.slice(-3000)}`);
      assert.not.match(out.stderr, /Permission denied|WARNING: could not keep the distro tree|Not using the cached distro tree/);
      const fromCache = a.name !== 'measured base';
      assert.match(out.stdout + out.stderr, fromCache ? FROM_CACHE : /distro stage and setup/, `${a.name}: ${fromCache ? 'the distro tree from the cache' : 'a distro stage'}`);
      const seconds = (Date.now() - start) / 1000;
      const file = a.target === 'image' ? 'kata-containers.img' : 'kata-containers-initrd.img';
      assert.ok(ownedBy(join(osbuilder, file), user.uid), `${a.name}: ${file} in the osbuilder dir, the user's`);
      if ('rootHash' in a) {
        assert.ok(ownedBy(join(osbuilder, a.rootHash), user.uid), `${a.name}: ${a.rootHash} the user's`);
        assert.match(readFileSync(join(osbuilder, a.rootHash), 'utf8'), /^root_hash=[0-9a-f]{64},salt=[0-9a-f]{64},/);
      }
      if (distro === 'ubuntu') {
        const sources = readFileSync(join(dest, 'ubuntu_rootfs/etc/apt/sources.list'), 'utf8');
        assert.match(sources, new RegExp(`${ubuntu!.repoUrl}\\s+resolute\\s+main`), `${a.name}: built from the stand-in's resolute`);
      }
      const boot = await bootGuest(a.target === 'image' ? { image: join(osbuilder, file), rootHashFile: join(osbuilder, a.rootHash) } : { initrd: join(osbuilder, file) });
      assert.ok(boot.markerSeen, `${a.name}: ${AGENT_MARKER}; last lines:\n${boot.console.split('\n').slice(-15).join('\n')}`);
      if ('rootHash' in a) assert.ok(boot.rootHashFile?.endsWith(a.rootHash), `${a.name}: booted through dm-verity with ${a.rootHash}`);
      times.push(`${a.name} ${seconds.toFixed(0)} s`);
    }
    console.log(`non-root ${distro}: ${times.join(', ')}`);
  });
}

// kata-deploy-binaries.sh's install_image_devkit_extension as the builder user: the extension's tree in
// a mktemp dir under the project (upstream: the repo root, a path valid in its nested containers), the
// image into the install dir, both commands with the exported variables only.
s("kata-deploy's devkit extension (rootfs.sh devkit, image_builder.sh), OS_VERSION=resolute (stand-in archive): the user's, verified, the devkit's files", async () => {
  const installDir = join(work, 'destdir/opt/kata/share/kata-containers');
  const made = await runAs(user, osbuilder, ['sh', '-c', `mkdir -p ${installDir} && mktemp -d ${osbuilder}/.devkit-extension-rootfs.XXXX`]);
  assert.is(made.exitCode, 0, made.stderr);
  const rootfs = made.stdout.trim();
  // The fifth distro tree in the user's cache: none evicted.
  const exported = { ...env, IMAGE_REGISTRY: 'localhost', PACKAGE_CACHE_DIR: packages, DISTRO_CACHE_ENTRIES: '5', REPO_URL: ubuntu!.repoUrl };
  const start = Date.now();
  const tree = await runAs(user, osbuilder, ['rootfs-builder/rootfs.sh', 'devkit'], {
    ...exported, ROOTFS_ONLY: 'yes', ROOTFS_DIR: rootfs, USE_DOCKER: '1', OS_VERSION: 'resolute', AGENT_INIT: 'no', AGENT_POLICY: 'no', AGENT_TARBALL: '',
  });
  assert.is(tree.exitCode, 0, `rootfs.sh devkit: ${tree.stdout.slice(-3000)}\n${tree.stderr.slice(-3000)}`);
  assert.not.match(tree.stderr, /Permission denied|WARNING: could not keep the distro tree/);
  const treeSeconds = (Date.now() - start) / 1000;
  const image = join(installDir, DEVKIT_IMAGE);
  const packed = await runAs(user, osbuilder, ['image-builder/image_builder.sh', '-o', image, rootfs], {
    ...exported, USE_DOCKER: '1', BUILD_VARIANT: 'devkit-extension', FS_TYPE: 'erofs', MEASURED_ROOTFS: 'yes', SKIP_DAX_HEADER: 'yes', SKIP_ROOTFS_CHECK: 'yes',
  });
  assert.is(packed.exitCode, 0, `image_builder.sh: ${packed.stdout.slice(-3000)}\n${packed.stderr.slice(-3000)}`);
  for (const name of [DEVKIT_IMAGE, DEVKIT_ROOT_HASH]) assert.ok(ownedBy(join(installDir, name), user.uid), `${name} in the install dir, the user's`);
  await assertVerifiedExtension(image, join(installDir, DEVKIT_ROOT_HASH));
  await assertDevkitTree(await extractExtension(image, join(work, 'devkit-x'), join(work, 'devkit-p1.erofs')));
  assert.match(readFileSync(join(work, 'devkit-x/etc/apt/sources.list'), 'utf8'), new RegExp(`${ubuntu!.repoUrl}\\s+resolute\\s+main\\s+universe`), 'built from the stand-in\'s resolute');
  console.log(`non-root devkit extension: tree ${treeSeconds.toFixed(0)} s, image ${((Date.now() - start) / 1000 - treeSeconds).toFixed(0)} s`);
});

s('make clean-cache as the user: the root-owned cached trees go through a container', async () => {
  assert.ok(readdirSync(distroTrees()).filter((n) => /^[0-9a-f]{32}$/.test(n)).length >= 2, 'the guests above left distro trees in the user\'s cache');
  const out = await makeAsUser(['clean-cache', 'USE_DOCKER=1']);
  assert.is(out.exitCode, 0, `${out.stdout}\n${out.stderr}`);
  assert.not.ok(existsSync(distroTrees()), 'the distro-tree cache is gone');
});

s.run();
