// Start and stop the container engines the tests (and a developer) use,
// and make the local base images the Dockerfiles start from.
//
//   tsx scripts/engines.ts start docker|podman   prints the variables to export
//   tsx scripts/engines.ts stop docker|podman    stops only what `start` started
//   tsx scripts/engines.ts base-image docker|podman [TAR]
//   tsx scripts/engines.ts base-image docker|podman fedora|centos
//
// Docker: an engine already answering is used as it is. Otherwise a private
// dockerd is started (own socket, data root, exec root); when this machine's
// capability bounding set lacks CAP_SYS_RESOURCE, its default runtime is a
// runc wrapper that drops that capability (else `--privileged` fails).
// Podman has no daemon: `start` writes a containers.conf (CONTAINERS_CONF)
// whose default ulimits fit this machine's hard limits, with cgroupfs and a
// file events logger. `stop` undoes the host changes the engine made since
// `start`: dockerd's netns mounts, the docker0 / cni-podman0 bridge, their
// iptables chains and rules, the FORWARD policy.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMain, runMain } from '../lib/core/cli.ts';
import { type Engine, checkEngine } from '../lib/container/engine.ts';
import { $, failureSummary, haveCommand } from '../lib/core/exec.ts';
import { die, info, ok, step, warn } from '../lib/core/log.ts';
import { mountsBelow } from '../lib/core/safe-paths.ts';
import { withDownloadRetries } from '../lib/core/retry.ts';
import { processAlive } from '../lib/core/stale-temps.ts';
import { ensureRpmStandinImage, RPM_DISTROS, type RpmDistro } from './standin/rpm.ts';

export const RUN_DIR = '/run/osbuilder-ts';
const DOCKER_SOCKET = join(RUN_DIR, 'docker.sock');
const DOCKER_EXEC_ROOT = join(RUN_DIR, 'docker');
const DOCKER_PID_FILE = join(RUN_DIR, 'dockerd.pid');
const DOCKER_LOG = join(RUN_DIR, 'dockerd.log');
/** Persistent, so the image layers (base image, build image) survive between runs. */
const DOCKER_DATA_ROOT = '/var/lib/osbuilder-ts/docker';
const CONTAINERS_CONF = join(RUN_DIR, 'containers.conf');
const RUNC_WRAPPER = new URL('./runc-without-sys-resource', import.meta.url).pathname;
const WRAPPER_RUNTIME = 'runc-without-sys-resource';

export const BASE_IMAGE = 'localhost/debian:bookworm';

/** Network leftovers each engine creates on the host. */
const NET_FOOTPRINT: Record<Engine, { bridge: string; chainPrefix: string }> = {
  docker: { bridge: 'docker0', chainPrefix: 'DOCKER' },
  podman: { bridge: 'cni-podman0', chainPrefix: 'CNI-' },
};
const IPTABLES_TABLES = ['filter', 'nat'] as const;

/** What the host's network looked like before `start`. */
export interface NetSnapshot {
  bridgeExisted: boolean;
  chains: string[];
  forwardPolicy: string;
}

interface EngineState {
  /** Variables a client needs to reach the engine. */
  env: Record<string, string>;
  /** pid of the dockerd we started, if any. */
  daemonPid?: number;
  before: NetSnapshot;
}

export interface EngineSession {
  engine: Engine;
  env: Record<string, string>;
  /** True when `start` started or configured something that `stop` will undo. */
  started: boolean;
}

const stateFile = (engine: Engine) => join(RUN_DIR, `${engine}.state.json`);

// ---- pure helpers ---------------------------------------------------------

/** Chain names (`:NAME POLICY [..]` lines) of `iptables-save` output, as `table/NAME`. */
export function chainsOf(save: string): string[] {
  let table = '';
  const chains: string[] = [];
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const m = /^:(\S+) /.exec(line);
    if (m) chains.push(`${table}/${m[1]}`);
  }
  return chains;
}

export function forwardPolicyOf(save: string): string {
  return /^\*filter[\s\S]*?^:FORWARD (\S+)/m.exec(save)?.[1] ?? 'ACCEPT';
}

/**
 * `iptables-restore --noflush` input removing what an engine added since the
 * snapshot: rules in other chains that jump to its new chains or name its new
 * bridge, then the new chains themselves, then the FORWARD policy.
 */
export function iptablesCleanupScript(save: string, before: NetSnapshot, footprint: { bridge: string; chainPrefix: string }): string {
  const newChains = new Set(
    chainsOf(save).filter((c) => c.split('/')[1]!.startsWith(footprint.chainPrefix) && !before.chains.includes(c)),
  );
  const byTable = new Map<string, string[]>();
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const rule = /^-A (\S+) (.*)$/.exec(line);
    if (!rule || newChains.has(`${table}/${rule[1]}`)) continue;
    const jumpsToNew = [...newChains].some((c) => c.startsWith(`${table}/`) && new RegExp(`-[jg] ${c.split('/')[1]}(\\s|$)`).test(rule[2]!));
    const namesBridge = !before.bridgeExisted && new RegExp(`-[io] ${footprint.bridge}(\\s|$)`).test(rule[2]!);
    if (jumpsToNew || namesBridge) (byTable.get(table) ?? byTable.set(table, []).get(table)!).push(`-D ${rule[1]} ${rule[2]}`);
  }
  for (const c of newChains) {
    const [t, name] = c.split('/') as [string, string];
    (byTable.get(t) ?? byTable.set(t, []).get(t)!).push(`-F ${name}`);
  }
  for (const c of newChains) {
    const [t, name] = c.split('/') as [string, string];
    byTable.get(t)!.push(`-X ${name}`);
  }
  if (forwardPolicyOf(save) !== before.forwardPolicy) {
    (byTable.get('filter') ?? byTable.set('filter', []).get('filter')!).push(`-P FORWARD ${before.forwardPolicy}`);
  }
  return [...byTable].map(([t, lines]) => `*${t}\n${lines.join('\n')}\nCOMMIT\n`).join('');
}

/** Whether a capability (by number) is in the bounding set of a /proc/<pid>/status text. */
export function hasBoundingCap(status: string, cap: number): boolean {
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(cap)) & 1n) === 1n;
}
const CAP_SYS_RESOURCE = 24;

/** containers.conf that lets podman start containers under this machine's hard limits. */
export function containersConf(nofileHard: number): string {
  return [
    '# Written by osbuilder-ts scripts/engines.ts',
    '[containers]',
    `default_ulimits = ["nofile=${nofileHard}:${nofileHard}", "nproc=32768:32768"]`,
    '',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    '',
  ].join('\n');
}

/** dockerd arguments for the private daemon. */
export function dockerdArgs(withWrapper: boolean): string[] {
  const args = [
    `--host=unix://${DOCKER_SOCKET}`, `--data-root=${DOCKER_DATA_ROOT}`, `--exec-root=${DOCKER_EXEC_ROOT}`,
    `--pidfile=${DOCKER_PID_FILE}`,
  ];
  if (withWrapper) args.push(`--add-runtime=${WRAPPER_RUNTIME}=${RUNC_WRAPPER}`, `--default-runtime=${WRAPPER_RUNTIME}`);
  return args;
}

// ---- effects --------------------------------------------------------------

async function iptablesSave(): Promise<string> {
  if (!(await haveCommand('iptables-save'))) return '';
  const parts = await Promise.all(IPTABLES_TABLES.map((t) => $({ nothrow: true })`iptables-save -t ${t}`));
  return parts.map((p) => p.stdout).join('');
}

async function linkExists(name: string): Promise<boolean> {
  return existsSync(`/sys/class/net/${name}`);
}

async function netSnapshot(engine: Engine): Promise<NetSnapshot> {
  const save = await iptablesSave();
  return {
    bridgeExisted: await linkExists(NET_FOOTPRINT[engine].bridge),
    chains: chainsOf(save),
    forwardPolicy: forwardPolicyOf(save),
  };
}

async function restoreNetwork(engine: Engine, before: NetSnapshot): Promise<void> {
  const footprint = NET_FOOTPRINT[engine];
  const script = iptablesCleanupScript(await iptablesSave(), before, footprint);
  if (script) {
    const r = await $({ nothrow: true, input: script })`iptables-restore --noflush`;
    if (r.exitCode !== 0) warn(`could not remove ${engine}'s iptables rules: ${failureSummary(r)}`);
  }
  if (!before.bridgeExisted && (await linkExists(footprint.bridge))) {
    await $({ nothrow: true })`ip link delete ${footprint.bridge}`;
  }
}

function readState(engine: Engine): EngineState | undefined {
  const file = stateFile(engine);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as EngineState) : undefined;
}

function writeState(engine: Engine, state: EngineState): void {
  mkdirSync(RUN_DIR, { recursive: true });
  writeFileSync(stateFile(engine), JSON.stringify(state, null, 2));
}

/** dockerd runs detached (setsid): once it exits it is a zombie until init reaps it, and that counts as gone. */
function alive(pid: number | undefined): boolean {
  return !!pid && processAlive(pid);
}

async function engineAnswers(engine: Engine, env: Record<string, string>): Promise<boolean> {
  try {
    await checkEngine(engine, { ...process.env, ...env });
    return true;
  } catch {
    return false;
  }
}

async function startDockerd(): Promise<number> {
  if (!(await haveCommand('dockerd'))) die('dockerd is not installed: apt-get install docker.io (scripts/setup-host.sh does)');
  const withWrapper = !hasBoundingCap(readFileSync('/proc/self/status', 'utf8'), CAP_SYS_RESOURCE);
  mkdirSync(RUN_DIR, { recursive: true });
  mkdirSync(DOCKER_DATA_ROOT, { recursive: true });
  rmSync(DOCKER_PID_FILE, { force: true });
  // setsid: the daemon outlives this process and a Ctrl-C aimed at the tests.
  await $`setsid dockerd ${dockerdArgs(withWrapper)} >${DOCKER_LOG} 2>&1 </dev/null &`;
  const env = { DOCKER_HOST: `unix://${DOCKER_SOCKET}` };
  for (let i = 0; i < 120; i++) {
    if (existsSync(DOCKER_PID_FILE) && (await engineAnswers('docker', env))) {
      return Number(readFileSync(DOCKER_PID_FILE, 'utf8').trim());
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const log = existsSync(DOCKER_LOG) ? readFileSync(DOCKER_LOG, 'utf8').trim().split('\n') : [];
  await stopDockerd(existsSync(DOCKER_PID_FILE) ? Number(readFileSync(DOCKER_PID_FILE, 'utf8')) : undefined);
  return die(`dockerd did not come up within 60 s: ${log[log.length - 1] ?? 'no log'} (log: ${DOCKER_LOG})`);
}

async function stopDockerd(pid: number | undefined): Promise<void> {
  if (alive(pid)) {
    process.kill(pid!, 'SIGTERM');
    for (let i = 0; i < 60 && alive(pid); i++) await new Promise((r) => setTimeout(r, 500));
    if (alive(pid)) process.kill(pid!, 'SIGKILL');
  }
  // dockerd leaves its netns bind mounts (and, killed, its data-root self mount).
  for (const dir of [DOCKER_EXEC_ROOT, DOCKER_DATA_ROOT]) {
    for (const m of mountsBelow(dir)) await $({ nothrow: true })`umount -l ${m}`;
  }
  rmSync(DOCKER_EXEC_ROOT, { recursive: true, force: true });
  rmSync(DOCKER_SOCKET, { force: true });
  rmSync(DOCKER_PID_FILE, { force: true });
}

/** Make `engine` usable; returns the variables its clients need. */
export async function startEngine(engine: Engine): Promise<EngineSession> {
  const previous = readState(engine);
  if (engine === 'docker') {
    if (previous && alive(previous.daemonPid) && (await engineAnswers('docker', previous.env))) {
      return { engine, env: previous.env, started: true };
    }
    if (!previous && (await engineAnswers('docker', {}))) {
      info('docker is already running: using it as it is');
      return { engine, env: {}, started: false };
    }
    const before = previous?.before ?? (await netSnapshot(engine));
    const daemonPid = await step('Starting a private dockerd', startDockerd);
    const env = { DOCKER_HOST: `unix://${DOCKER_SOCKET}` };
    writeState(engine, { env, daemonPid, before });
    return { engine, env, started: true };
  }
  if (!(await haveCommand('podman'))) die('podman is not installed: apt-get install podman (scripts/setup-host.sh does)');
  const env: Record<string, string> = {};
  if (!process.env.CONTAINERS_CONF) {
    const nofile = Number((await $`ulimit -Hn`).stdout.trim()) || 1024;
    mkdirSync(RUN_DIR, { recursive: true });
    writeFileSync(CONTAINERS_CONF, containersConf(nofile));
    env.CONTAINERS_CONF = CONTAINERS_CONF;
  }
  if (!(await engineAnswers('podman', env))) await checkEngine('podman', { ...process.env, ...env });
  writeState(engine, { env, before: previous?.before ?? (await netSnapshot(engine)) });
  return { engine, env, started: true };
}

/** Undo what `startEngine` did (nothing when the engine was already running). */
export async function stopEngine(engine: Engine): Promise<void> {
  const state = readState(engine);
  if (!state) {
    info(`${engine}: nothing was started by scripts/engines.ts`);
    return;
  }
  if (engine === 'docker') await stopDockerd(state.daemonPid);
  if (engine === 'podman' && state.env.CONTAINERS_CONF) rmSync(state.env.CONTAINERS_CONF, { force: true });
  await restoreNetwork(engine, state.before);
  rmSync(stateFile(engine), { force: true });
  ok(`${engine}: stopped what was started and removed its network leftovers`);
}

/** A minbase Debian bookworm tarball made with mmdebstrap (the base of the build images). */
export async function makeBaseTarball(tar: string): Promise<void> {
  if (!(await haveCommand('mmdebstrap'))) die('mmdebstrap is not installed: apt-get install mmdebstrap');
  await step('mmdebstrap --variant=minbase bookworm', () =>
    withDownloadRetries('mmdebstrap', () => $`mmdebstrap --variant=minbase bookworm ${tar}`, { beforeRetry: () => rmSync(tar, { force: true }) }));
}

/**
 * Import BASE_IMAGE into the engine unless present (no registry is needed:
 * build with IMAGE_REGISTRY=localhost). `tar`: an existing base tarball.
 */
export async function ensureBaseImage(engine: Engine, env: Record<string, string>, tar?: string): Promise<void> {
  const opts = { env: { ...process.env, ...env } };
  if ((await $({ ...opts, nothrow: true })`${engine} image inspect ${BASE_IMAGE}`).exitCode === 0) return;
  let scratch: string | undefined;
  if (!tar) {
    scratch = join(tmpdir(), `osbuilder-base-${process.pid}`);
    mkdirSync(scratch, { recursive: true });
    tar = join(scratch, 'base.tar');
    await makeBaseTarball(tar);
  }
  try {
    await step(`Importing ${BASE_IMAGE} into ${engine}`, () => $(opts)`${engine} import - ${BASE_IMAGE} < ${tar}`);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

function exportLines(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `export ${k}=${v}\n`).join('');
}

async function main(): Promise<void> {
  const [command, engine, tar] = process.argv.slice(2);
  if (engine !== 'docker' && engine !== 'podman') {
    die('usage: scripts/engines.ts start|stop|base-image docker|podman [TAR | fedora | centos]');
  }
  if (command === 'start') process.stdout.write(exportLines((await startEngine(engine)).env));
  else if (command === 'stop') await stopEngine(engine);
  else if (command === 'base-image') {
    const session = await startEngine(engine);
    if (RPM_DISTROS.includes(tar as RpmDistro)) {
      const image = await ensureRpmStandinImage(engine, session.env, tar as RpmDistro);
      ok(`${image} in ${engine}: build with ${engine === 'docker' ? 'USE_DOCKER' : 'USE_PODMAN'}=true IMAGE_REGISTRY=localhost`);
    } else await ensureBaseImage(engine, session.env, tar);
  } else die(`unknown command "${command}": use start, stop or base-image`);
}

if (isMain(import.meta.url)) await runMain(main);
