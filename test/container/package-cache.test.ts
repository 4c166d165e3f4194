// Container builds and the caches, for real with docker (engine started by
// scripts/engines.ts, from the locally made base image): PACKAGE_CACHE_DIR is
// mounted into the build container, so a build with it filled downloads less
// than half the packages' bytes; and the distro-tree cache works as on the
// host: an agent change reruns only the setup, with no container at all.
// Run under `flock /tmp/osbuilder-engines.lock`.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { ensureBaseImage, startEngine, stopEngine } from '../../scripts/engines.ts';
import { rebuiltTestAgentBinary, testAgentBinary } from '../helpers/agent.ts';
import { debianBaseTarball } from '../helpers/engines.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';

const KEY = 'debian-bookworm-amd64-mmdebstrap';

/**
 * Bytes the build containers received: what docker0, their bridge, sent
 * them. The machine's own counters would also count other builds' downloads;
 * the engines' lock makes this engine and its bridge ours alone.
 */
function containerReceivedBytes(): number {
  const line = readFileSync('/proc/net/dev', 'utf8').split('\n').map((l) => l.trim().split(/[:\s]+/)).find((f) => f[0] === 'docker0');
  return line ? Number(line[9]) : 0;
}

const s = suite('USE_DOCKER=true: package cache mounted, distro-tree cache');
// The engine starts when this suite runs, not when the file is loaded: the
// container build suites, loaded first, stop theirs when they end.
let engineEnv: Record<string, string> = {};
const scratch = mkdtempSync('/var/tmp/container-caches-');
const packages = join(scratch, 'packages');
const trees = join(scratch, 'trees');
const agent = join(scratch, 'kata-agent');
const env = () => ({ ...engineEnv, AGENT_SOURCE_BIN: agent, PACKAGE_CACHE_DIR: packages, DISTRO_CACHE_DIR: trees });

s.before(async () => {
  const session = await startEngine('docker');
  engineEnv = { USE_DOCKER: 'true', IMAGE_REGISTRY: 'localhost', ...session.env };
  await ensureBaseImage('docker', session.env, await debianBaseTarball());
  copyFileSync(await testAgentBinary(), agent);
});
s.after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await stopEngine('docker');
});

s('a build with the package cache filled downloads less than half the packages; an agent change then reruns only the setup', async () => {
  // Cold: fills the mounted cache (and the engine's build image).
  let received = containerReceivedBytes();
  const cold = await runRootfs(['-r', join(scratch, 'cold'), 'debian'], { ...env(), DISTRO_CACHE_DIR: 'no' });
  assert.is(cold.exitCode, 0, cold.stderr);
  const coldBytes = containerReceivedBytes() - received;
  const debs = readdirSync(join(packages, KEY)).filter((f) => f.endsWith('.deb'));
  assert.ok(debs.some((f) => f.startsWith('systemd_')), 'the container build filled the host cache');
  const debBytes = debs.reduce((sum, f) => sum + statSync(join(packages, KEY, f)).size, 0);

  received = containerReceivedBytes();
  const warm = await runRootfs(['-r', join(scratch, 'rootfs'), 'debian'], env());
  assert.is(warm.exitCode, 0, warm.stderr);
  const warmBytes = containerReceivedBytes() - received;
  console.log(`container build: received ${coldBytes} bytes cold, ${warmBytes} warm; the cached packages are ${debBytes}`);
  assert.ok(warmBytes < debBytes / 2, `received ${warmBytes} bytes, the cached packages are ${debBytes}`);

  copyFileSync(await rebuiltTestAgentBinary(), agent);
  const again = await runRootfs(['-r', join(scratch, 'rootfs'), 'debian'], env());
  assert.is(again.exitCode, 0, again.stderr);
  assert.match(again.stdout, /setup stage only \(distro tree from the cache\): changed input\(s\): AGENT_SOURCE_BIN$/m);
  assert.not.match(again.stdout + again.stderr, /docker (build|run)|rootfs stage/, 'no container');
  await $`strip -o ${agent}.stripped ${agent}`;
  assert.equal(readFileSync(join(scratch, 'rootfs/usr/bin/kata-agent')), readFileSync(`${agent}.stripped`));
});

s.run();
