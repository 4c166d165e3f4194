// tier: unit
// The exact engine command lines of the rootfs container stage, for every
// distro and both engines, and the other pure parts of lib/container/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { containerEnv, resolveSettings } from '../../lib/core/cli.ts';
import {
  STAGE_CAPS, isRedHatFamily, stageBuildSpec, stageEntry, stageEnv, stageRunSpec, type HostFacts,
} from '../../lib/container/rootfs-stage.ts';
import { listDistros, loadDistro } from '../../lib/rootfs/distro.ts';
import { buildArgv, runArgv, type Engine } from '../../lib/container/engine.ts';
import { packageCacheBase } from '../../lib/rootfs/package-cache.ts';
import { rootfsSettings } from '../../lib/rootfs/settings.ts';
import { mountedUrl, withMountedImportMetaUrl } from '../../lib/container/bundle.ts';
import { packEntry, packRunSpec } from '../../lib/container/pack.ts';
import { containerScriptSettings, engineSettings } from '../../lib/core/shared-settings.ts';
import { engineFor } from '../../lib/container/engine.ts';
const packSettingsFromEnv = (env: NodeJS.ProcessEnv) => resolveSettings(containerScriptSettings, env);
const packEngine = (env: NodeJS.ProcessEnv) => engineFor(resolveSettings(engineSettings, env));
import { InnerErrorFilter, PROJECT_DIR, commonBuildArgs, warnLoopbackProxies } from '../../lib/container/run.ts';
import { imageSettings } from '../../image.ts';
import { initrdSettings } from '../../initrd.ts';
import { contextFor, scriptDir } from '../../rootfs.ts';

const ENV = {
  AGENT_INIT: 'no', EXTRA_PKGS: 'vim less', OSBUILDER_VERSION: '1.0-abc', http_proxy: 'http://proxy:3128',
  IMAGE_REGISTRY: 'localhost', DEBUG: '1', AGENT_SOURCE_BIN: '/agents/kata-agent', ARCH: 'x86_64',
};

async function ctxFor(distroName: string, env: Record<string, string> = ENV) {
  const settings = resolveSettings(rootfsSettings, env);
  const distro = await loadDistro(distroName, 'x86_64');
  return contextFor(settings, distroName, distro, '/build/debian_rootfs', env);
}

const buildLine = (ctx: Awaited<ReturnType<typeof ctxFor>>, engine: Engine) =>
  buildArgv({ ...stageBuildSpec(ctx, engine), dockerfile: '/tmp/stage/Dockerfile' });

const facts = (over: Partial<HostFacts> = {}): HostFacts => ({
  redHatHost: false, selinux: false, nofileHardLimit: 1048576, containerName: 'osbuilder-x-1', stageDir: '/tmp/stage', ...over,
});

test('debian, docker: the exact build and run command lines', async () => {
  const ctx = await ctxFor('debian');
  assert.equal(buildLine(ctx, 'docker'), [
    'build', '--build-arg', 'http_proxy=http://proxy:3128', '--build-arg', 'https_proxy=',
    '--build-arg', 'IMAGE_REGISTRY=localhost',
    '-t', 'debian-rootfs-osbuilder', '-f', '/tmp/stage/Dockerfile', `${scriptDir}/rootfs/debian`,
  ]);
  assert.equal(runArgv(stageRunSpec(ctx, 'docker', facts())), [
    'run', '--rm', '--name', 'osbuilder-x-1', '--runtime', 'runc', '--ulimit', 'nofile=262144:262144',
    '--cap-add', 'SYS_ADMIN', '--cap-add', 'SYS_CHROOT', '--cap-add', 'MKNOD',
    '--security-opt', 'apparmor=unconfined',
    '--env', 'AGENT_VERSION=', '--env', 'OSBUILDER_VERSION=1.0-abc',
    '--env', 'AGENT_BIN=kata-agent', '--env', 'AGENT_INIT=no', '--env', 'AGENT_POLICY=no', '--env', 'LIBC=', '--env', 'SECCOMP=yes',
    '--env', 'KERNEL_MODULES_DIR=', '--env', 'EXTRA_PKGS=vim less', '--env', 'OS_VERSION=',
    '--env', 'REPO_URL=', '--env', 'REPO_URL_X86_64=', '--env', 'CONFIDENTIAL_GUEST=no', '--env', 'ROOTFS_ONLY=no',
    '--env', 'DEBUG=true', '--env', 'http_proxy=http://proxy:3128', '--env', 'https_proxy=', '--env', 'ARCH=x86_64',
    '--env', 'DEBIAN_BOOTSTRAP=', '--env', 'REPO_COMPONENTS=main', '--env', 'PACKAGE_CACHE_DIR=/var/cache/osbuilder-packages',
    '--env', 'ROOTFS_DIR=/rootfs', '--env', 'INSIDE_CONTAINER=1', '--env', 'STAGE_PREPARE_ROOTFS=1', '--env', 'HOME=/root',
    '-v', `${scriptDir}:/osbuilder`, '-v', '/tmp/stage:/osbuilder-stage:ro', '-v', `${ctx.workDir}:/rootfs`,
    '-v', `${packageCacheBase('')}:/var/cache/osbuilder-packages`,
    'debian-rootfs-osbuilder', 'node', '/osbuilder-stage/rootfs-stage.mjs', 'debian',
  ]);
});

test('debian, podman: --runtime on build, no --ulimit (containers.conf owns the limits)', async () => {
  const ctx = await ctxFor('debian');
  assert.equal(buildLine(ctx, 'podman').slice(0, 3), ['build', '--runtime', 'runc']);
  const run = runArgv(stageRunSpec(ctx, 'podman', facts()));
  assert.equal(run.slice(0, 8), ['run', '--rm', '--name', 'osbuilder-x-1', '--runtime', 'runc', '--cap-add', 'SYS_ADMIN']);
  assert.not.ok(run.includes('--ulimit'));
});

test('host facts: nofile capped at the hard limit, no AppArmor option on Red Hat hosts, :Z with SELinux', async () => {
  const ctx = await ctxFor('debian');
  const run = runArgv(stageRunSpec(ctx, 'docker', facts({ redHatHost: true, selinux: true, nofileHardLimit: 20000 })));
  assert.ok(run.includes('nofile=20000:20000'));
  assert.not.ok(run.includes('--security-opt'));
  assert.ok(run.includes(`${scriptDir}:/osbuilder:Z`));
  assert.ok(run.includes('/tmp/stage:/osbuilder-stage:ro,Z'));
});

test('DOCKER_RUNTIME, KERNEL_MODULES_DIR (mounted read-only at the same path), no IMAGE_REGISTRY', async () => {
  const ctx = await ctxFor('debian', { DOCKER_RUNTIME: 'crun', KERNEL_MODULES_DIR: '/lib/modules/6.1', OSBUILDER_VERSION: 'v' });
  const build = buildLine(ctx, 'podman');
  assert.equal(build.slice(0, 3), ['build', '--runtime', 'crun']);
  assert.not.ok(build.some((a) => a.startsWith('IMAGE_REGISTRY')));
  const run = runArgv(stageRunSpec(ctx, 'docker', facts()));
  assert.equal(run.slice(4, 6), ['--runtime', 'crun']);
  assert.ok(run.includes('KERNEL_MODULES_DIR=/lib/modules/6.1'));
  assert.ok(run.includes('/lib/modules/6.1:/lib/modules/6.1:ro'));
});

test('DNF_CONF: mounted read-only at its absolute path and passed as that path', async () => {
  const ctx = await ctxFor('fedora', { ...ENV, DNF_CONF: 'site/dnf.conf' });
  const run = runArgv(stageRunSpec(ctx, 'docker', facts()));
  const conf = `${process.cwd()}/site/dnf.conf`;
  assert.ok(run.includes(`DNF_CONF=${conf}`), run.join(' '));
  assert.ok(run.includes(`${conf}:${conf}:ro`), run.join(' '));
  assert.not.ok(runArgv(stageRunSpec(await ctxFor('fedora'), 'docker', facts())).some((a) => a.includes('DNF_CONF')), 'unset: not passed');
});

for (const distroName of listDistros()) {
  for (const engine of ['docker', 'podman'] as Engine[]) {
    test(`${distroName}, ${engine}: caps, the container environment, volumes, AppArmor from the distro config`, async () => {
      const ctx = await ctxFor(distroName);
      const run = stageRunSpec(ctx, engine, facts());
      assert.is(run.image, `${distroName}-rootfs-osbuilder`);
      assert.equal(run.caps, STAGE_CAPS);
      assert.equal(run.securityOpts, ctx.distro!.containerAppArmorUnconfined ? ['apparmor=unconfined'] : []);
      const env = new Map(run.env);
      for (const name of ['http_proxy', 'https_proxy', 'AGENT_VERSION', 'AGENT_BIN', 'AGENT_INIT', 'KERNEL_MODULES_DIR', 'EXTRA_PKGS', 'OSBUILDER_VERSION', 'OS_VERSION', 'SECCOMP', 'DEBUG']) {
        assert.ok(env.has(name), `${name} passed`);
      }
      for (const [k, v] of [['ROOTFS_DIR', '/rootfs'], ['INSIDE_CONTAINER', '1'], ['STAGE_PREPARE_ROOTFS', '1'], ['HOME', '/root']]) {
        assert.is(env.get(k), v);
      }
      for (const spec of Object.values(ctx.distro!.settings ?? {})) if (spec.env) assert.ok(env.has(spec.env), `${spec.env} passed`);
      assert.not.ok(env.has('AGENT_SOURCE_BIN'), 'the agent is installed on the host, not in the container');
      assert.equal(run.mounts.map((m) => m.target), ['/osbuilder', '/osbuilder-stage', '/rootfs', '/var/cache/osbuilder-packages']);
      assert.equal(run.command, ['node', '/osbuilder-stage/rootfs-stage.mjs', distroName]);
      assert.equal(stageBuildSpec(ctx, engine).contextDir, `${scriptDir}/rootfs/${distroName}`);
    });
  }
}

test('the environment comes from the settings tables (values as the shell sees them)', async () => {
  const ctx = await ctxFor('debian', { SECCOMP: 'yes', AGENT_INIT: 'yes', OSBUILDER_VERSION: 'v' });
  const env = new Map(stageEnv(ctx));
  assert.is(env.get('SECCOMP'), 'yes');
  assert.is(env.get('AGENT_INIT'), 'yes');
  assert.is(env.get('DEBUG'), '', 'DEBUG unset stays empty');
});

test('PACKAGE_CACHE_DIR: the host cache is mounted read-write and named to the stage; no: neither', async () => {
  const ctx = await ctxFor('debian', { ...ENV, PACKAGE_CACHE_DIR: '/srv/pkgs' });
  const run = stageRunSpec(ctx, 'docker', facts());
  assert.equal(run.mounts.at(-1), { source: '/srv/pkgs', target: '/var/cache/osbuilder-packages' });
  assert.is(new Map(run.env).get('PACKAGE_CACHE_DIR'), '/var/cache/osbuilder-packages');
  const off = stageRunSpec(await ctxFor('debian', { ...ENV, PACKAGE_CACHE_DIR: 'no' }), 'docker', facts());
  assert.not.ok(off.mounts.some((m) => m.target === '/var/cache/osbuilder-packages'));
  assert.is(new Map(off.env).get('PACKAGE_CACHE_DIR'), 'no');
});

test('Red Hat family hosts from /etc/os-release', () => {
  assert.ok(isRedHatFamily('NAME="Fedora Linux"\nID=fedora\n'));
  assert.ok(isRedHatFamily('ID="centos"\n'));
  assert.ok(isRedHatFamily('ID="rhel"\n'));
  assert.not.ok(isRedHatFamily('ID=debian\n'));
  assert.not.ok(isRedHatFamily('ID=ubuntu\nID_LIKE=debian\n'));
});

test('stage entry links the distro config in and runs rootfs.ts main', () => {
  const entry = stageEntry('debian');
  assert.match(entry, /import config from '\.\/rootfs\/debian\/config\.ts';/);
  assert.match(entry, /bundledDistros\.set\("debian", config\);/);
  assert.match(entry, /await runMain\(\(\) => main\(\)\);/);
});

test('bundled modules see their own path inside the container', () => {
  assert.is(mountedUrl('/work/p', '/work/p/lib/distro.ts', '/osbuilder'), 'file:///osbuilder/lib/distro.ts');
  assert.is(
    withMountedImportMetaUrl("new URL('../rootfs/', import.meta.url); import.meta.urls", 'file:///osbuilder/lib/distro.ts'),
    'new URL(\'../rootfs/\', "file:///osbuilder/lib/distro.ts"); import.meta.urls',
  );
});

test('inner ERROR lines are held back (the outer build prints one), everything else streams', () => {
  const out: string[] = [];
  const f = new InnerErrorFilter((l) => out.push(l));
  f.push('INFO: a\nERR');
  f.push('OR: mmdebstrap failed\nWARNING: w');
  f.end();
  assert.equal(out, ['INFO: a\n', 'WARNING: w\n']);
  assert.is(f.lastError, 'mmdebstrap failed');
});

for (const engine of ['docker', 'podman'] as Engine[]) {
  test(`image.ts with ${engine}: no privileges, no caps, no /dev; rootfs read-only, output dir writable`, () => {
    const s = resolveSettings(imageSettings, { FS_TYPE: 'xfs', SOURCE_DATE_EPOCH: '7', USE_DOCKER: 'true' }, { r: '64' });
    const job = {
      tool: 'image' as const, engine, rootfs: '/b/debian_rootfs', output: '/out/kata.img',
      env: containerEnv(imageSettings, s),
      settings: packSettingsFromEnv({ DOCKER_RUNTIME: 'crun' }),
    };
    assert.equal(runArgv(packRunSpec(job, '/tmp/stage', 'osbuilder-image-builder-1', false)), [
      'run', '--rm', '--name', 'osbuilder-image-builder-1', '--runtime', 'crun',
      '--env', 'ROOT_FREE_SPACE=64', '--env', 'FS_TYPE=xfs', '--env', 'AGENT_INIT=no',
      '--env', 'BLOCK_SIZE=4096', '--env', 'SKIP_DAX_HEADER=no', '--env', 'MEASURED_ROOTFS=no',
      '--env', 'IMAGE_SIZE_ALIGNMENT_MB=128', '--env', 'SKIP_ROOTFS_CHECK=no', '--env', 'SOURCE_DATE_EPOCH=7',
      '--env', 'DEBUG=', '--env', 'http_proxy=', '--env', 'https_proxy=', '--env', 'INSIDE_CONTAINER=1', '--env', 'HOME=/root',
      '-v', `${PROJECT_DIR}:/osbuilder:ro`, '-v', '/tmp/stage:/osbuilder-stage:ro', '-v', '/b/debian_rootfs:/rootfs:ro', '-v', '/out:/output',
      'image-builder-osbuilder', 'node', '/osbuilder-stage/image-stage.mjs', '-o', '/output/kata.img', '/rootfs',
    ]);
  });
}

test('initrd.ts in a container: its settings, its bundle', () => {
  const s = resolveSettings(initrdSettings, { INITRD_COMPRESSION: 'zstd' });
  const job = {
    tool: 'initrd' as const, engine: 'podman' as Engine, rootfs: '/r', output: '/o/i.img',
    env: containerEnv(initrdSettings, s), settings: packSettingsFromEnv({}),
  };
  const run = runArgv(packRunSpec(job, '/s', 'n', true));
  assert.ok(run.includes('INITRD_COMPRESSION=zstd'));
  assert.ok(run.includes('/r:/rootfs:ro,Z'));
  assert.equal(run.slice(-4), ['/osbuilder-stage/initrd-stage.mjs', '-o', '/output/i.img', '/rootfs']);
  assert.not.ok(run.some((a) => /privileged|--device|cap-add|\/dev:/.test(a)));
  assert.match(packEntry('initrd'), /import \{ main \} from '\.\/initrd\.ts';\nawait runMain\(\(\) => main\(\)\);/);
});

test('USE_DOCKER / USE_PODMAN for image.ts and initrd.ts read as rootfs.ts reads them', () => {
  assert.is(packEngine({ USE_DOCKER: 'true', USE_PODMAN: '1' }), 'docker');
  assert.is(packEngine({ USE_PODMAN: 'yes' }), 'podman');
  assert.is(packEngine({ USE_DOCKER: 'no' }), undefined);
  assert.is(packEngine({}), undefined);
  const pack = packSettingsFromEnv({ IMAGE_REGISTRY: 'localhost', http_proxy: 'p' });
  assert.equal([pack.dockerRuntime, pack.imageRegistry, pack.httpProxy, pack.httpsProxy], ['runc', 'localhost', 'p', '']);
});

test('proxies: lower- and upper-case forms and no_proxy reach the build args and the run env; a loopback proxy gets a WARNING', async () => {
  const ctx = await ctxFor('debian', {
    ...ENV, https_proxy: 'http://proxy:3129', no_proxy: 'localhost,.corp', HTTP_PROXY: 'http://127.0.0.1:3128', HTTPS_PROXY: 'proxy:3129', NO_PROXY: '.corp',
  });
  const build = buildLine(ctx, 'docker');
  for (const arg of ['http_proxy=http://proxy:3128', 'https_proxy=http://proxy:3129', 'no_proxy=localhost,.corp', 'HTTP_PROXY=http://127.0.0.1:3128', 'HTTPS_PROXY=proxy:3129', 'NO_PROXY=.corp']) {
    assert.ok(build.includes(arg), `build arg ${arg}`);
  }
  const run = runArgv(stageRunSpec(ctx, 'docker', facts())).join(' ');
  for (const env of ['no_proxy=localhost,.corp', 'HTTP_PROXY=http://127.0.0.1:3128', 'HTTPS_PROXY=proxy:3129', 'NO_PROXY=.corp']) assert.ok(run.includes(`--env ${env}`), env);
  const coco = runArgv(stageRunSpec(await ctxFor('debian', { ...ENV, COCO_GUEST_COMPONENTS_TARBALL: '/x/coco.tar.zst' }), 'docker', facts()));
  assert.ok(coco.includes('CONFIDENTIAL_GUEST=yes'), 'a guest-components tarball implies CONFIDENTIAL_GUEST=yes in the container too');
  const pack = commonBuildArgs(packSettingsFromEnv({ no_proxy: 'a', HTTPS_PROXY: 'b' }));
  assert.equal(pack, [['http_proxy', ''], ['https_proxy', ''], ['no_proxy', 'a'], ['HTTPS_PROXY', 'b']]);
  const warnings: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (warnings.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    warnLoopbackProxies([['http_proxy', 'http://localhost:3128'], ['HTTPS_PROXY', '127.1.2.3:8080'], ['https_proxy', 'http://[::1]:3128'],
      ['HTTP_PROXY', 'http://proxy.corp:3128'], ['no_proxy', 'localhost'], ['IMAGE_REGISTRY', 'localhost']]);
  } finally {
    process.stderr.write = write;
  }
  assert.is(warnings.length, 3, warnings.join(''));
  for (const w of warnings) assert.match(w, /^WARNING: (http_proxy|HTTPS_PROXY|https_proxy)=.* loopback, which the build container cannot reach/);
});

test.run();
