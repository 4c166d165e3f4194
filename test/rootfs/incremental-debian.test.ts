// The daily loop through make, for real: a Debian build and image, then a
// rebuilt test agent. The second `make rootfs-debian image-debian` reuses the
// cached distro tree (no mmdebstrap), the image holds the new agent (read
// back from it), and the rootfs equals what -f builds from scratch.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { manifestPath } from '../../lib/rootfs/manifest.ts';
import { rebuiltTestAgentBinary, testAgentBinary } from '../helpers/agent.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { cleanEnv, repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';
import { treeListing } from '../helpers/tree-listing.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-incremental-debian-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const dest = join(scratch, 'out');
const rootfs = join(dest, 'debian_rootfs');
const image = join(dest, 'kata-containers-image-debian.img');
const agent = join(scratch, 'kata-agent');
const env = () => ({
  ...cleanEnv(),
  AGENT_SOURCE_BIN: agent,
  PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'),
  DISTRO_CACHE_DIR: join(scratch, 'trees'),
  SOURCE_DATE_EPOCH: '1700000000',
});

const make = (...targets: string[]) =>
  $({ cwd: repoRoot, env: env(), nothrow: true })`make ${targets} ROOTFS_BUILD_DEST=${dest} IMAGES_BUILD_DEST=${dest} VERSION_COMMIT=incremental-test`;

/** A file's bytes read back from the image's ext4 partition (upstream layout: at 3 MiB). */
async function fromImage(path: string): Promise<Buffer> {
  const out = join(scratch, 'readback');
  rmSync(out, { force: true });
  await $`debugfs -R ${`dump ${path} ${out}`} ${`${image}?offset=${3 * MiB}`}`;
  return readFileSync(out);
}

/** The agent as the build installs it (stripped). */
async function installed(path: string): Promise<Buffer> {
  await $`strip -o ${path}.stripped ${path}`;
  return readFileSync(`${path}.stripped`);
}

test('an agent change: make rebuilds the setup stage on the cached tree and the image; the rootfs equals a build from scratch', async () => {
  mkdirSync(dest);
  copyFileSync(await testAgentBinary(), agent);
  const first = await make('rootfs-debian', 'image-debian');
  assert.is(first.exitCode, 0, first.stderr);
  assert.match(first.stdout, /^INFO: Building rootfs .*debian_rootfs: distro stage and setup$/m);
  assert.match(first.stdout, /mmdebstrap|debootstrap/);
  const firstImage = statSync(image).mtimeMs;

  copyFileSync(await rebuiltTestAgentBinary(), agent);
  const second = await make('rootfs-debian', 'image-debian');
  assert.is(second.exitCode, 0, second.stderr);
  const line = second.stdout.split('\n').find((l) => /^INFO: (Re)?[Bb]uilding rootfs/.test(l)) ?? second.stdout;
  assert.match(line, /^INFO: Rebuilding rootfs .*debian_rootfs, setup stage only \(distro tree from the cache\): changed input\(s\): AGENT_SOURCE_BIN$/, line);
  assert.not.match(second.stdout, /mmdebstrap|debootstrap/, 'no bootstrap');
  assert.ok(statSync(image).mtimeMs > firstImage, 'the image is remade');
  const newAgent = await installed(agent);
  assert.equal(readFileSync(join(rootfs, 'usr/bin/kata-agent')), newAgent);
  assert.equal(await fromImage('/usr/bin/kata-agent'), newAgent, 'the image holds the new agent');

  // Nothing changed: neither the rootfs nor the image is remade.
  const imageTime = statSync(image).mtimeMs;
  const third = await make('rootfs-debian', 'image-debian');
  assert.match(third.stdout, /is up to date/);
  assert.is(statSync(image).mtimeMs, imageTime);

  const scratchBuild = join(scratch, 'forced', 'debian_rootfs');
  mkdirSync(join(scratch, 'forced'));
  const forced = await runRootfs(['-f', '-o', 'incremental-test', '-d', '-r', scratchBuild, 'debian'], {
    AGENT_SOURCE_BIN: agent, DISTRO_CACHE_DIR: 'no', SOURCE_DATE_EPOCH: '1700000000',
  });
  assert.is(forced.exitCode, 0, forced.stderr);
  const [incremental, fromScratch] = [await treeListing(rootfs), await treeListing(scratchBuild)];
  const onlyIn = (a: string[], b: string[]) => a.filter((l) => !b.includes(l));
  assert.equal([onlyIn(incremental, fromScratch), onlyIn(fromScratch, incremental)], [[], []]);
  assert.ok(incremental.length > 1000, `a whole Debian tree (${incremental.length} paths)`);
  rmSync(manifestPath(scratchBuild), { force: true });
});

test.run();
