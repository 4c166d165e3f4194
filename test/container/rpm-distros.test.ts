// The seed's commands for the rpm distros, with real engines and real dnf:
// `make USE_DOCKER=true IMAGE_REGISTRY=localhost rootfs-fedora image-fedora`
// from the stand-in base images (scripts/standin/rpm.ts: Debian's dnf and
// nodejs, a baked stand-in rpm repository), rootfs/<distro>/Dockerfile.in
// unchanged. AGENT_INIT=yes with the test agent: each image boots to it.
// Then `USE_DOCKER=true tsx image.ts fedora` in an empty directory, centos
// with docker, fedora with podman. A suite is skipped only when its engine
// cannot be started; engines are stopped after.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { bootGuest } from '../../lib/boot/boot.ts';
import type { Engine } from '../../lib/container/engine.ts';
import { $ } from '../../lib/core/exec.ts';
import { ensureBaseImage, startEngine, stopEngine } from '../../scripts/engines.ts';
import { ensureRpmStandinImage, RPM_STANDINS, type RpmDistro } from '../../scripts/standin/rpm.ts';
import { AGENT_MARKER, testAgentBinary } from '../helpers/agent.ts';
import { debianBaseTarball } from '../helpers/engines.ts';
import { runImageTs } from '../helpers/image-fixture.ts';
import { cleanEnv, repoRoot } from '../helpers/rootfs-fixture.ts';

const USE: Record<Engine, string> = { docker: 'USE_DOCKER', podman: 'USE_PODMAN' };
const OS_VERSION: Record<RpmDistro, string> = { fedora: '42', centos: 'stream9' };



const tail = (text: string, n = 25) => text.split('\n').slice(-n).join('\n');

/** A tree built by the container stage from the stand-in repository, set up on the host with the agent as init. */
function assertStandinTree(root: string, distro: RpmDistro, agent: Buffer): void {
  for (const file of ['usr/sbin/iptables', 'etc/chrony.conf', 'usr/lib64/libseccomp.so.2']) assert.ok(existsSync(join(root, file)), `${file} from the stand-in rpms`);
  assert.not.ok(existsSync(join(root, 'usr/share/osbuilder-standin')), 'the build image\'s own packages stay out of the guest');
  assert.ok(readFileSync(join(root, 'sbin/init')).equals(agent), 'the test agent is init');
  const summary = parse(readFileSync(join(root, 'var/lib/osbuilder/osbuilder.yaml'), 'utf8'));
  assert.equal([summary['base-distro'].name, summary['base-distro'].version, summary.agent['agent-is-init-daemon']], [distro, OS_VERSION[distro], 'yes']);
  assert.equal(summary['base-distro'].packages.default, ['chrony', 'iptables', 'libseccomp']);
}

for (const engine of ['docker', 'podman'] as Engine[]) {
  const s = suite(`${USE[engine]}=true: the rpm distros from their stand-in base images`);
  const work = mkdtempSync(`/var/tmp/osb-rpm-${engine}-`);
  // The engine's variables join `env` when the suite runs: every file is loaded before any suite runs,
  // and the suites before this one start and stop the same engine.
  const engineEnv: Record<string, string> = {};
  const env = { ...cleanEnv(), [USE[engine]]: 'true', IMAGE_REGISTRY: 'localhost', AGENT_INIT: 'yes' } as Record<string, string>;

  s.before(async () => {
    Object.assign(engineEnv, (await startEngine(engine)).env);
    Object.assign(env, engineEnv);
    env.AGENT_SOURCE_BIN = await testAgentBinary();
    // image-builder's base, then the stand-ins.
    await ensureBaseImage(engine, engineEnv, await debianBaseTarball());
  });
  s.after(async () => {
    rmSync(work, { recursive: true, force: true });
    await stopEngine(engine);
  });

  /** make rootfs-DISTRO then image-DISTRO in `dest`, as the seed shows them; returns the seconds of each. */
  async function makeBoth(distro: RpmDistro, dest: string): Promise<number[]> {
    await ensureRpmStandinImage(engine, engineEnv, distro);
    const seconds: number[] = [];
    for (const target of [`rootfs-${distro}`, `image-${distro}`]) {
      const start = Date.now();
      const out = await $({ nothrow: true, cwd: repoRoot, env })`make ${`ROOTFS_BUILD_DEST=${dest}`} ${`IMAGES_BUILD_DEST=${dest}`} ${target}`;
      assert.is(out.exitCode, 0, `make ${target}:\n${tail(out.stdout)}\n${tail(out.stderr)}`);
      if (target.startsWith('rootfs')) {
        assert.match(out.stderr + out.stdout, new RegExp(`Running the ${distro} rootfs stage in ${engine} container`), 'the distro stage ran in the build container');
      }
      seconds.push((Date.now() - start) / 1000);
    }
    return seconds;
  }

  const distros: RpmDistro[] = engine === 'docker' ? ['fedora', 'centos'] : ['fedora'];
  for (const distro of distros) {
    s(`make ${USE[engine]}=true IMAGE_REGISTRY=localhost rootfs-${distro} image-${distro} from ${RPM_STANDINS[distro].image}; the image boots to the agent`, async () => {
      const dest = join(work, distro);
      const [rootfsSeconds, imageSeconds] = await makeBoth(distro, dest);
      assertStandinTree(join(dest, `${distro}_rootfs`), distro, readFileSync(env.AGENT_SOURCE_BIN!));
      const image = join(dest, `kata-containers-image-${distro}.img`);
      assert.ok(statSync(image).size > 0);
      console.log(`${engine} ${distro}: rootfs ${rootfsSeconds!.toFixed(0)} s, image ${imageSeconds!.toFixed(0)} s`);
      const boot = await bootGuest({ image });
      assert.ok(boot.markerSeen, `${AGENT_MARKER} from the ${distro} image; last lines:\n${tail(boot.console, 15)}`);
    });
  }

  if (engine === 'docker') {
    s('USE_DOCKER=true tsx image.ts fedora in a directory without fedora_rootfs: built in the container, then packed', async () => {
      const dir = join(work, 'by-name');
      await $`mkdir -p ${dir}`;
      const out = await runImageTs(['fedora'], env, dir);
      assert.is(out.exitCode, 0, `${tail(out.stdout)}\n${tail(out.stderr)}`);
      assert.match(out.stderr + out.stdout, /Running the fedora rootfs stage in docker container/);
      assertStandinTree(join(dir, 'fedora_rootfs'), 'fedora', readFileSync(env.AGENT_SOURCE_BIN!));
      assert.ok(statSync(join(dir, 'kata-containers-image-fedora.img')).size > 0);
    });
  }

  s.run();
}
