// Real container builds: `USE_DOCKER=true` and `USE_PODMAN=true tsx rootfs.ts
// debian` with the test agent, against engines started by scripts/engines.ts
// (and stopped after), from a locally made base image (IMAGE_REGISTRY=localhost).
// The result must match a host build file for file and boot to the agent.
// A suite reports itself skipped only when its engine cannot be started.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { bootGuest } from '../../lib/boot/boot.ts';
import { HOST_VARIABLE, type Engine } from '../../lib/container/engine.ts';
import { $ } from '../../lib/core/exec.ts';
import { ensureBaseImage, stopEngine } from '../../scripts/engines.ts';
import { AGENT_MARKER, testAgentBinary } from '../helpers/agent.ts';
import { debianBaseTarball, startOrSkip } from '../helpers/engines.ts';
import { cached, hashFiles, hashOf } from '../helpers/cache.ts';
import { runImageTs } from '../helpers/image-fixture.ts';
import { cleanEnv, debianRootfs, repoRoot, rootfsBuilderInputs, runRootfs } from '../helpers/rootfs-fixture.ts';

const USE: Record<Engine, string> = { docker: 'USE_DOCKER', podman: 'USE_PODMAN' };


/** Every input of a container build: the rootfs builder, the container layer, the engine. */
async function containerBuildKey(engine: Engine, env: Record<string, string>): Promise<string> {
  const version = (await $({ env: { ...process.env, ...env } })`${engine} version --format ${engine === 'docker' ? '{{.Server.Version}}' : '{{.Version}}'}`).stdout;
  const files = [...rootfsBuilderInputs('debian'), 'lib/container/bundle.ts', 'scripts/engines.ts', 'scripts/runc-without-sys-resource'];
  return hashOf(hashFiles(...files), readFileSync(await testAgentBinary()), engine, version, '-d');
}

/** A temp dir next to which rootfs.ts stages, so leftovers are easy to see. */
function scratch(): string {
  return mkdtempSync('/var/tmp/container-build-');
}

function runInitrdTs(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['INITRD_IMAGE', 'USE_DOCKER', 'USE_PODMAN', 'SOURCE_DATE_EPOCH'].includes(k)));
  return $({ nothrow: true, cwd: repoRoot, env: { ...clean, ...env } })`${join(repoRoot, 'node_modules/.bin/tsx')} initrd.ts ${args}`;
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ERROR:'));

/** Relative paths of a tree, minus var/ and dev/ (setupRootfs rewrites var; dev holds nodes). */
async function pathList(root: string): Promise<string[]> {
  return (await $`cd ${root} && find . -path ./var -prune -o -path ./dev -prune -o -print`).stdout.trim().split('\n').sort();
}

function assertOneError(out: { exitCode: number | null; stderr: string }, pattern: RegExp): void {
  assert.is.not(out.exitCode, 0);
  const errors = errorLines(out.stderr);
  assert.is(errors.length, 1, `one ERROR line, got:\n${errors.join('\n')}`);
  assert.match(errors[0]!, pattern);
}

function assertNothingLeft(dir: string): void {
  assert.not.ok(existsSync(join(dir, 'rootfs')), 'no ROOTFS_DIR presented');
  assert.equal(readdirSync(dir), [], 'no staging sibling left');
}

// ---- errors that need no running engine ------------------------------------

const errors = suite('container build errors before any engine work');

errors('engine not installed: one ERROR line naming the package', async () => {
  // A PATH with node and the basic tools the script needs, but no engine.
  const bin = mkdtempSync('/tmp/no-engine-');
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const tool of ['bash', 'sh', 'rm', 'mkdir', 'umount']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
  try {
    const dir = scratch();
    const out = await runRootfs(['-r', join(dir, 'rootfs'), 'debian'], { USE_PODMAN: 'true', PATH: bin, AGENT_SOURCE_BIN: await testAgentBinary() });
    assertOneError(out, /^ERROR: podman is not installed: install it \(apt-get install podman\)/);
    assertNothingLeft(dir);
    rmSync(dir, { recursive: true });
  } finally {
    rmSync(bin, { recursive: true });
  }
});

for (const engine of ['docker', 'podman'] as Engine[]) {
  errors(`${engine} not running: one ERROR line saying how to start it`, async () => {
    const dir = scratch();
    const out = await runRootfs(['-r', join(dir, 'rootfs'), 'debian'], {
      [USE[engine]]: 'true', [HOST_VARIABLE[engine]]: 'unix:///run/osbuilder-ts-test-nothing-here.sock', AGENT_SOURCE_BIN: await testAgentBinary(),
    });
    assertOneError(out, new RegExp(`^ERROR: ${engine} is not running or not reachable .*start it`));
    assertNothingLeft(dir);
    rmSync(dir, { recursive: true });
  });

  errors(`${engine}: a remote ${HOST_VARIABLE[engine]} is refused (bind mounts cannot reach it)`, async () => {
    const dir = scratch();
    const out = await runRootfs(['-r', join(dir, 'rootfs'), 'debian'], {
      [USE[engine]]: 'true', [HOST_VARIABLE[engine]]: 'tcp://192.0.2.1:2376', AGENT_SOURCE_BIN: await testAgentBinary(),
    });
    assertOneError(out, new RegExp(`^ERROR: ${HOST_VARIABLE[engine]}=tcp://192.0.2.1:2376 is a remote ${engine} engine: .*bind-mounts local directories`));
    assertNothingLeft(dir);
    rmSync(dir, { recursive: true });
  });
}

errors.run();

// ---- real builds, per engine -----------------------------------------------


for (const engine of ['docker', 'podman'] as Engine[]) {
  const s = suite(`USE_${engine.toUpperCase()}=true rootfs.ts debian`);
  const session = await startOrSkip(engine);
  if (typeof session === 'string') {
    console.log(`SKIPPED: ${engine} container builds: the engine cannot be started: ${session}`);
    s.skip(`${engine} builds (engine cannot be started)`, () => {});
    s.run();
    continue;
  }
  const env = session.env;
  const engineEnv = { [USE[engine]]: 'true', IMAGE_REGISTRY: 'localhost', ...env };
  let ready: Promise<void> | undefined;
  const baseImage = () => (ready ??= debianBaseTarball().then((tar) => ensureBaseImage(engine, env, tar)));

  let built: Promise<string> | undefined;
  /** The container-built rootfs (built once per engine and inputs, cached). */
  const containerRootfs = () =>
    (built ??= (async () => {
      await baseImage();
      const agent = await testAgentBinary();
      const dir = await cached(`debian-rootfs-${engine}`, await containerBuildKey(engine, env), async (tmp) => {
        const out = await runRootfs(['-d', '-r', join(tmp, 'rootfs'), 'debian'], { ...engineEnv, AGENT_SOURCE_BIN: agent }); // -d as the host fixture
        if (out.exitCode !== 0) throw new Error(`USE_${engine.toUpperCase()} rootfs.ts debian failed:\n${out.stdout}\n${out.stderr}`);
      });
      return join(dir, 'rootfs');
    })());

  s.after(async () => {
    await stopEngine(engine);
  });

  s('builds a Kata rootfs whose files are those of a host build', async () => {
    const root = await containerRootfs();
    const agent = join(root, 'usr/bin/kata-agent');
    assert.equal(readFileSync(agent), readFileSync(await testAgentBinary()), 'agent installed on the host stage');
    assert.is(readFileSync(join(root, 'etc/resolv.conf'), 'utf8'), '');
    const summary = parse(readFileSync(join(root, 'var/lib/osbuilder/osbuilder.yaml'), 'utf8'));
    assert.equal(summary['base-distro'].packages.default, ['chrony', 'cryptsetup-bin', 'dbus', 'e2fsprogs', 'init', 'iptables', 'kmod', 'libseccomp2']);
    assert.is(summary['base-distro'].version, 'bookworm');
    const host = await debianRootfs({ agentInit: 'no' });
    const [mine, theirs] = [await pathList(root), await pathList(host)];
    const onlyMine = mine.filter((p) => !theirs.includes(p));
    const onlyHost = theirs.filter((p) => !mine.includes(p));
    assert.equal([onlyMine.slice(0, 10), onlyHost.slice(0, 10)], [[], []], 'same files as the host build');
    assert.ok(mine.length > 3000, `a whole Debian tree (${mine.length} paths)`);
  });

  s(`USE_${engine.toUpperCase()}=true image.ts and initrd.ts: the same bytes as on the host; the image boots to the agent`, async () => {
    const root = await containerRootfs();
    const dir = mkdtempSync('/var/tmp/container-pack-');
    try {
      const epoch = { SOURCE_DATE_EPOCH: '1700000000' };
      const inContainer = { ...epoch, ...engineEnv };
      for (const [args, env] of [[['-o', join(dir, 'c.img'), root], inContainer], [['-o', join(dir, 'h.img'), root], epoch]] as const) {
        const out = await runImageTs([...args], env);
        assert.is(out.exitCode, 0, out.stderr);
      }
      assert.ok(readFileSync(join(dir, 'c.img')).equals(readFileSync(join(dir, 'h.img'))), 'container image.ts = host image.ts');
      for (const [name, env] of [['c.initrd', inContainer], ['h.initrd', epoch]] as const) {
        const out = await runInitrdTs(['-o', join(dir, name), root], env);
        assert.is(out.exitCode, 0, out.stderr);
      }
      assert.ok(readFileSync(join(dir, 'c.initrd')).equals(readFileSync(join(dir, 'h.initrd'))), 'container initrd.ts = host initrd.ts');
      const boot = await bootGuest({ image: join(dir, 'c.img') });
      assert.ok(boot.markerSeen, `${AGENT_MARKER} on the console; last lines:\n${boot.console.split('\n').slice(-15).join('\n')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  s('a failing image build: one ERROR line, no rootfs', async () => {
    await baseImage();
    const dir = scratch();
    const out = await runRootfs(['-r', join(dir, 'rootfs'), 'debian'], {
      ...engineEnv, OS_VERSION: 'no-such-release', AGENT_SOURCE_BIN: await testAgentBinary(),
    });
    assertOneError(out, new RegExp(`^ERROR: ${engine} build of debian-rootfs-osbuilder failed \\(exit \\d+\\)`));
    assertNothingLeft(dir);
    rmSync(dir, { recursive: true });
  });

  // A mirror that refuses connections (the container's own loopback): mmdebstrap fails fast inside.
  s('a failing stage inside the container: one ERROR line with the inner error, no rootfs, no container left', async () => {
    await containerRootfs(); // the build image exists
    const dir = scratch();
    const out = await runRootfs(['-r', join(dir, 'rootfs'), 'debian'], {
      ...engineEnv, REPO_URL: 'http://127.0.0.1:9/debian', AGENT_SOURCE_BIN: await testAgentBinary(),
    });
    assertOneError(out, new RegExp(`^ERROR: the debian rootfs stage in the ${engine} container failed \\(exit 1\\): command failed`));
    assertNothingLeft(dir);
    rmSync(dir, { recursive: true });
    const left = await $({ env: { ...process.env, ...env } })`${engine} ps -a -q --filter name=osbuilder-debian-rootfs-`;
    assert.is(left.stdout.trim(), '', 'no build container left');
  });

  s('SIGTERM during the stage removes the container and the partial rootfs', async () => {
    await containerRootfs();
    const dir = scratch();
    // Signal only the script (tsx relays it to its child), as a Ctrl-C or kill would.
    const tsxCli = join(repoRoot, 'node_modules/tsx/dist/cli.mjs');
    const procEnv = { ...cleanEnv(), ...engineEnv, AGENT_SOURCE_BIN: await testAgentBinary() };
    const proc = $({ nothrow: true, env: procEnv, cwd: repoRoot })`exec ${process.execPath} ${tsxCli} rootfs.ts -r ${join(dir, 'rootfs')} debian`;
    const clientEnv = { ...process.env, ...env };
    let name = '';
    for (let i = 0; i < 240 && !name; i++) {
      await new Promise((r) => setTimeout(r, 500));
      name = (await $({ env: clientEnv })`${engine} ps -q --filter name=osbuilder-debian-rootfs-`).stdout.trim();
    }
    assert.ok(name, 'the build container started');
    process.kill(proc.child!.pid!, 'SIGTERM');
    const out = await proc;
    assert.is(out.exitCode, 143);
    assert.is((await $({ env: clientEnv })`${engine} ps -a -q --filter name=osbuilder-debian-rootfs-`).stdout.trim(), '');
    assertNothingLeft(dir);
    rmSync(dir, { recursive: true });
  });

  s.run();
}
