// The pure parts of a non-root caller's container build: the setup's inputs
// mounted read-only at the paths the inner run is told, the stage without
// STAGE_PREPARE_ROOTFS, the outputs the pack container gives back, the
// removal container, and the owners given back (real chowns, as root).
import { chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveSettings } from '../../lib/core/cli.ts';
import { runArgv } from '../../lib/container/engine.ts';
import { OWNER_VARIABLE, giveToCaller, matchDirOwner } from '../../lib/container/owner.ts';
import { packEntry, packOutputs, packRunSpec } from '../../lib/container/pack.ts';
import { containerScriptSettings } from '../../lib/core/shared-settings.ts';
import { pickImage, projectImages, removalRunSpec } from '../../lib/container/remove.ts';
import { CONTAINER_DISTRO_CACHE_DIR, CONTAINER_NEW_ENTRY_DIR, CONTAINER_NEW_LAYER_DIR, stageEntry, stageEnv, stageRunSpec, type HostFacts } from '../../lib/container/rootfs-stage.ts';
import { loadDistro } from '../../lib/rootfs/distro.ts';
import { rootfsSettings } from '../../lib/rootfs/settings.ts';
import { contextFor } from '../../rootfs.ts';

const ENV = {
  AGENT_TARBALL: '/in/kata-static-agent.tar.zst', AGENT_POLICY: 'yes', AGENT_POLICY_FILE: '/in/allow-all.rego',
  PAUSE_IMAGE_TARBALL: '/in/pause.tar.gz', SOURCE_DATE_EPOCH: '7', ARCH: 'x86_64', OSBUILDER_VERSION: 'v',
};
const facts: HostFacts = { redHatHost: false, selinux: false, nofileHardLimit: 1024, containerName: 'c', stageDir: '/tmp/stage' };

async function ctxFor(env: Record<string, string>, flags: Record<string, unknown> = {}) {
  const settings = resolveSettings(rootfsSettings, env, flags as never);
  return contextFor(settings, 'debian', await loadDistro('debian', 'x86_64'), '/build/debian_rootfs', env);
}

test('setup in the container: its inputs read-only at their paths, named to the inner run; no STAGE_PREPARE_ROOTFS; -d passed on', async () => {
  const ctx = await ctxFor(ENV, { d: true });
  const agent = { kind: 'tarball' as const, path: '/in/kata-static-agent.tar.zst' };
  const run = stageRunSpec(ctx, 'docker', facts, agent);
  const env = new Map(run.env);
  assert.not.ok(env.has('STAGE_PREPARE_ROOTFS'));
  assert.is(env.get('AGENT_TARBALL'), '/in/kata-static-agent.tar.zst');
  assert.is(env.get('AGENT_POLICY_FILE'), '/in/allow-all.rego');
  assert.is(env.get('PAUSE_IMAGE_TARBALL'), '/in/pause.tar.gz');
  assert.is(env.get('SOURCE_DATE_EPOCH'), '7');
  for (const path of ['/in/kata-static-agent.tar.zst', '/in/allow-all.rego', '/in/pause.tar.gz']) {
    assert.ok(run.mounts.some((m) => m.source === path && m.target === path && m.readOnly), `${path} mounted read-only`);
  }
  assert.equal(run.command.slice(-2), ['-d', 'debian']);
  // The two-stage flow (root callers, or no agent): distro stage only, no inputs.
  const distroOnly = stageRunSpec(ctx, 'docker', facts);
  assert.is(new Map(distroOnly.env).get('STAGE_PREPARE_ROOTFS'), '1');
  assert.not.ok(distroOnly.mounts.some((m) => m.target.startsWith('/in/')));
  assert.equal(distroOnly.command.slice(-1), ['debian']);
  assert.not.ok(stageEnv(ctx).some(([k]) => k === OWNER_VARIABLE), 'root (this test) gives nothing back');
});

test("the distro-tree cache in the container: read-only, one new entry dir to fill (two with the AGENT_INIT=yes layer), the keys named; FORCE_REBUILD passed on", async () => {
  const agent = { kind: 'tarball' as const, path: '/in/kata-static-agent.tar.zst' };
  const trees = { cache: { dir: '/home/u/.cache/osbuilder-ts/distro-trees', maxEntries: 3 }, key: 'ab'.repeat(16), newEntry: '/home/u/.cache/osbuilder-ts/distro-trees/.tmp-42' };
  const run = stageRunSpec(await ctxFor(ENV), 'docker', facts, agent, trees);
  const env = new Map(run.env);
  assert.is(env.get('DISTRO_CACHE_DIR'), CONTAINER_DISTRO_CACHE_DIR);
  assert.is(env.get('DISTRO_STAGE_KEY'), trees.key);
  assert.not.ok(env.has('FORCE_REBUILD'));
  assert.ok(run.mounts.some((m) => m.source === trees.cache.dir && m.target === CONTAINER_DISTRO_CACHE_DIR && m.readOnly), 'the cache read-only');
  assert.ok(run.mounts.some((m) => m.source === trees.newEntry && m.target === CONTAINER_NEW_ENTRY_DIR && !m.readOnly), 'the new entry writable');
  const forced = new Map(stageRunSpec(await ctxFor(ENV, { f: true }), 'docker', facts, agent, trees).env);
  assert.is(forced.get('FORCE_REBUILD'), 'yes', 'a forced rebuild does not take the cached tree in the container either');
  const inner = resolveSettings(rootfsSettings, Object.fromEntries(forced), {} as never);
  assert.is(inner.distroStageKey, trees.key);
  assert.ok(inner.forceRebuild && inner.insideContainer);
  assert.not.ok(new Map(stageRunSpec(await ctxFor(ENV), 'docker', facts, agent).env).has('DISTRO_STAGE_KEY'), 'no cache: no key');
  assert.not.ok(env.has('DISTRO_LAYER_KEY') || run.mounts.some((m) => m.target === CONTAINER_NEW_LAYER_DIR), 'no layer: no key, no second entry dir');
  // An AGENT_INIT=no build: the AGENT_INIT=yes tree it is built over gets its key and an entry dir of its own.
  const layer = { key: 'cd'.repeat(16), newEntry: '/home/u/.cache/osbuilder-ts/distro-trees/.tmp-42-layer' };
  const layered = stageRunSpec(await ctxFor(ENV), 'docker', facts, agent, { ...trees, layer });
  assert.is(new Map(layered.env).get('DISTRO_LAYER_KEY'), layer.key);
  assert.ok(layered.mounts.some((m) => m.source === layer.newEntry && m.target === CONTAINER_NEW_LAYER_DIR && !m.readOnly), 'the layer\'s entry writable');
  assert.is(resolveSettings(rootfsSettings, Object.fromEntries(layered.env), {} as never).distroLayerKey, layer.key);
});

test('stage and pack entries: the owner given back only for a non-root caller', () => {
  assert.match(stageEntry('debian'), /await runMain\(\(\) => main\(\)\);/);
  assert.match(stageEntry('debian', true), /finally \{ matchDirOwner\("\/var\/cache\/osbuilder-packages"\); \}/);
  assert.match(packEntry('image', ['/output/a.img']), /await main\(\); giveToCaller\(\["\/output\/a\.img"\]\);/);
});

test('pack outputs: the image, its SBOM and, measured, root_hash_<variant>.txt; the owner in the environment', () => {
  const job = {
    tool: 'image' as const, engine: 'docker' as const, rootfs: '/r', output: '/o/kata-containers.img',
    env: [['MEASURED_ROOTFS', 'yes'], ['BUILD_VARIANT', 'base']] as [string, string][], settings: resolveSettings(containerScriptSettings, {}), owner: '1000:1000',
  };
  assert.equal(packOutputs(job), ['/output/kata-containers.img', '/output/kata-containers.img.cdx.json', '/output/root_hash_base.txt']);
  assert.equal(packOutputs({ ...job, env: [] }), ['/output/kata-containers.img', '/output/kata-containers.img.cdx.json']);
  assert.equal(packOutputs({ ...job, tool: 'initrd', output: '/o/i.img' }), ['/output/i.img', '/output/i.img.cdx.json']);
  assert.ok(runArgv(packRunSpec(job, '/s', 'n', false)).includes(`${OWNER_VARIABLE}=1000:1000`));
});

test('removal container: the parent mounted, rm of the one tree; a build image of this project picked', () => {
  const spec = removalRunSpec({ engine: 'docker', image: 'debian-rootfs-osbuilder', dir: '/b/.debian_rootfs.old-12', runtime: 'runc', selinux: true, name: 'n' });
  assert.equal(runArgv(spec), [
    'run', '--rm', '--name', 'n', '--runtime', 'runc', '--security-opt', 'label=disable', '-v', '/b:/parent',
    'debian-rootfs-osbuilder', 'rm', '-rf', '--one-file-system', '/parent/.debian_rootfs.old-12',
  ]);
  const present = projectImages(['localhost/debian', 'localhost/image-builder-osbuilder', 'fedora-rootfs-osbuilder', '']);
  assert.equal(present, ['image-builder-osbuilder', 'fedora-rootfs-osbuilder']);
  assert.is(pickImage(present, ['fedora-rootfs-osbuilder']), 'fedora-rootfs-osbuilder');
  assert.is(pickImage(present, ['debian-rootfs-osbuilder']), 'image-builder-osbuilder');
  assert.is(pickImage([], ['debian-rootfs-osbuilder']), undefined);
});

test('owners given back: outputs to the caller, a cache to its own owner; nothing for root', () => {
  const dir = mkdtempSync(join(tmpdir(), 'owner-'));
  try {
    const out = join(dir, 'kata.img');
    writeFileSync(out, '');
    giveToCaller([out, join(dir, 'missing')], {});
    assert.is(lstatSync(out).uid, 0, 'no owner variable: unchanged');
    giveToCaller([out, join(dir, 'missing')], { [OWNER_VARIABLE]: '4321:4322' });
    assert.equal([lstatSync(out).uid, lstatSync(out).gid], [4321, 4322]);
    const cache = join(dir, 'cache');
    mkdirSync(join(cache, 'debian-bookworm'), { recursive: true });
    writeFileSync(join(cache, 'debian-bookworm/a.deb'), '');
    chownSync(cache, 4321, 4322);
    matchDirOwner(cache, { [OWNER_VARIABLE]: '4321:4322' });
    assert.is(lstatSync(join(cache, 'debian-bookworm/a.deb')).uid, 4321);
    chownSync(cache, 0, 0);
    matchDirOwner(cache, {});
    assert.is(lstatSync(join(cache, 'debian-bookworm/a.deb')).uid, 4321, 'a root caller: untouched');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
