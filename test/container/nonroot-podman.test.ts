// A NON-ROOT user with rootless podman (USE_PODMAN=1, no daemon, no group):
// make image and make initrd in the user's own copy of the project. The
// build containers run in the user's namespace (its subordinate ids), so the
// tree's files belong to the user and its range, never to root; the
// artifacts boot to the agent, the user's `make clean` removes all of it, and
// the tree built again takes its distro stage from the user's distro-tree cache.
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import { $ } from '../../lib/core/exec.ts';
import { DEVICE_NODE_TABLE } from '../../lib/core/device-nodes.ts';
import { BASE_IMAGE } from '../../scripts/engines.ts';
import { AGENT_MARKER, testAgentBinary } from '../helpers/agent.ts';
import { debianBaseTarball } from '../helpers/engines.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { makeAs, projectCopy, runAs, testUser, type TestUser } from '../helpers/nonroot-user.ts';

const s = suite('non-root user with rootless podman (USE_PODMAN=1)');
const work = mkdtempSync('/var/tmp/osb-rootless-podman-');
const osbuilder = join(work, 'osbuilder');
// The user's own package cache, kept between runs: rootless containers write it as the user.
const packages = join(cacheRoot, 'packages-rootless-podman');
let user: TestUser;
let subordinateGidStart = 0;

const run = (args: string[], extra: Record<string, string> = {}) =>
  makeAs(user, osbuilder, args, { USE_PODMAN: '1', IMAGE_REGISTRY: 'localhost', PACKAGE_CACHE_DIR: packages, DISTRO_CACHE_DIR: join(work, 'distro-trees'), ...extra });
const tail = (r: { stdout: string; stderr: string }) => `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`;

s.before(async () => {
  user = await testUser('osb-podman', { ranges: '500000-565535' });
  subordinateGidStart = Number(readFileSync('/etc/subgid', 'utf8').split('\n').find((l) => l.startsWith(`${user.name}:`))!.split(':')[1]);
  // The user's podman has its own image store: the local Debian base image goes there.
  if ((await runAs(user, '/', ['podman', 'image', 'inspect', BASE_IMAGE])).exitCode !== 0) {
    const tar = await debianBaseTarball();
    await $`runuser -u ${user.name} -- env -i HOME=/home/${user.name} PATH=/usr/bin:/bin podman import - ${BASE_IMAGE} < ${tar}`;
  }
  await projectCopy(osbuilder);
  cpSync(await testAgentBinary(), join(work, 'kata-agent'));
  mkdirSync(packages, { recursive: true });
  await $`chown -R ${user.uid}:${user.gid} ${work} ${packages}`;
});

s.after(async () => {
  if (user) await runAs(user, '/', ['podman', 'unshare', 'rm', '-rf', work]);
  await $({ nothrow: true })`rm -rf ${work}`;
});

s('make image and make initrd (AGENT_INIT=yes): the tree in the user\'s ids, the outputs the user\'s, both booting; make clean removes it all', async () => {
  const agent = { AGENT_INIT: 'yes', AGENT_SOURCE_BIN: join(work, 'kata-agent') };
  const image = await run(['image', 'DISTRO=debian'], agent);
  assert.is(image.exitCode, 0, tail(image));
  assert.not.match(image.stderr, /Permission denied/);
  // Device nodes cannot be made in a user namespace: the tree carries their table, the packers make them.
  assert.not.match(image.stderr, /WARNING: no device nodes/);
  const tree = join(osbuilder, 'debian_rootfs');
  assert.ok(lstatSync(join(tree, DEVICE_NODE_TABLE)).isFile(), `${DEVICE_NODE_TABLE} in the tree`);
  assert.is(lstatSync(join(tree, 'sbin/init')).uid, user.uid, 'the agent as init: the container\'s root is the user');
  // The guest's shadow group (gid 42) maps into the user's subordinate range: guest gid N is the range's start + N - 1.
  assert.is(lstatSync(join(tree, 'etc/shadow')).gid, subordinateGidStart + 42 - 1, 'etc/shadow\'s group maps into the subordinate range');
  for (const name of ['kata-containers.img', 'kata-containers.img.cdx.json']) assert.is(lstatSync(join(osbuilder, name)).uid, user.uid, `${name} is the user's`);
  const bootImage = await bootGuest({ image: join(osbuilder, 'kata-containers.img') });
  assert.ok(bootImage.markerSeen, `${AGENT_MARKER} from the image; last lines:\n${bootImage.console.split('\n').slice(-15).join('\n')}`);

  const initrd = await run(['initrd', 'DISTRO=debian'], agent);
  assert.is(initrd.exitCode, 0, tail(initrd));
  assert.match(initrd.stdout + initrd.stderr, /is up to date/, 'the initrd reuses the tree');
  assert.is(lstatSync(join(osbuilder, 'kata-containers-initrd.img')).uid, user.uid);
  const bootInitrd = await bootGuest({ initrd: join(osbuilder, 'kata-containers-initrd.img') });
  assert.ok(bootInitrd.markerSeen, `${AGENT_MARKER} from the initrd; last lines:\n${bootInitrd.console.split('\n').slice(-15).join('\n')}`);

  const clean = await run(['clean', 'DISTRO=debian']);
  assert.is(clean.exitCode, 0, tail(clean));
  const left = readdirSync(osbuilder).filter((n) => /_rootfs|\.img/.test(n));
  assert.equal(left, [], 'make clean left no tree, output or SBOM');
  assert.not.ok(existsSync(tree));
  assert.is((await runAs(user, '/', ['podman', 'ps', '-aq'])).stdout.trim(), '', 'no container left behind');

  // The tree again: its distro stage comes from the user's distro-tree cache, in the container.
  const again = await run(['rootfs', 'DISTRO=debian'], agent);
  assert.is(again.exitCode, 0, tail(again));
  assert.match(again.stdout + again.stderr, /setup stage only \(distro tree from the cache\)/);
  assert.is(lstatSync(join(tree, 'sbin/init')).uid, user.uid, 'set up in the container on the cached tree');
  assert.is(lstatSync(join(tree, 'etc/shadow')).gid, subordinateGidStart + 42 - 1, 'the cached tree keeps its ids');
});

s.run();
