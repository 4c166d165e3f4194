// Installing the kata-agent into the rootfs from one of three sources — a
// prebuilt binary (AGENT_SOURCE_BIN), a tarball (AGENT_TARBALL) or the agent
// source tree built with make — and wiring it up as init or systemd service.
import { existsSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { tmpdir } from 'node:os';
import { isExecutableFile } from '../core/fs-checks.ts';
import { guestTree, type GuestTree } from '../core/guest-tree.ts';
import { join, relative, resolve } from 'node:path';
import type { RootfsContext } from './types.ts';
import { $, haveCommand } from '../core/exec.ts';
import { checkAgentTarball } from '../core/input-checks.ts';
import { die, info, ok, step, warn } from '../core/log.ts';
import type { RootfsSettings } from './settings.ts';
import { unpackTarball } from './tar-unpack.ts';
import { rustVersion } from './versions.ts';

export type AgentSource =
  | { kind: 'binary'; path: string }
  | { kind: 'tarball'; path: string }
  | { kind: 'source'; dir: string };

export const AGENT_UNIT = 'kata-agent.service';
export const AGENT_TARGET = 'kata-containers.target';
const UNIT_DIR = 'usr/lib/systemd/system';
/** kata-containers.target, relative to the rootfs root. */
export const AGENT_TARGET_PATH = `${UNIT_DIR}/${AGENT_TARGET}`;

/** The agent source tree: AGENT_SOURCE_DIR, else src/agent of the Kata tree this project sits in. */
export function agentSourceDirOf(settings: RootfsSettings, scriptDir: string): string {
  return settings.agentSourceDir || join(scriptDir, '../../src/agent');
}

/** Pick and validate the agent source before anything touches the disk. */
export function agentSourceOf(settings: RootfsSettings, scriptDir: string): AgentSource {
  const { agentSourceBin: bin, agentTarball: tarball } = settings;
  if (bin && tarball) die('AGENT_SOURCE_BIN and AGENT_TARBALL are both set: give only one agent source');
  if (bin) {
    if (!existsSync(bin)) die(`AGENT_SOURCE_BIN=${bin} does not exist: give the path of a built agent binary`);
    if (!isExecutableFile(bin)) die(`AGENT_SOURCE_BIN=${bin} is not an executable file: chmod +x it or give the agent binary`);
    return { kind: 'binary', path: resolve(bin) };
  }
  if (tarball) {
    checkAgentTarball(tarball);
    return { kind: 'tarball', path: resolve(tarball) };
  }
  const dir = agentSourceDirOf(settings, scriptDir);
  if (!existsSync(join(dir, 'Makefile'))) {
    die(`no agent: ${dir} has no Makefile; set AGENT_SOURCE_DIR to the agent sources, or AGENT_SOURCE_BIN / AGENT_TARBALL (to try things without Kata sources: make TEST_AGENT=yes ..., see README Next steps)`);
  }
  return { kind: 'source', dir: resolve(dir) };
}

async function buildFromSource(ctx: RootfsContext, dir: string): Promise<void> {
  const s = ctx.settings;
  const rust = rustVersion(ctx);
  if (rust) info(`Agent needs rust ${rust} (from versions.yaml)`);
  if (s.agentVersion) {
    const r = await $({ nothrow: true, cwd: dir })`git checkout ${s.agentVersion}`;
    if (r.exitCode !== 0) die(`checkout of agent version ${s.agentVersion} in ${dir} failed: give a ref that exists there`);
    ok(`git checkout ${s.agentVersion}`);
  }
  const make = { LIBC: ctx.libc, INIT: s.agentInit, SECCOMP: s.seccomp, AGENT_POLICY: s.agentPolicy };
  const vars = Object.entries(make).map(([k, v]) => `${k}=${v}`);
  await step('Building the agent', async () => {
    await $({ cwd: dir })`make clean`;
    await $({ cwd: dir })`make ${vars}`;
    await $({ cwd: dir })`make install DESTDIR=${ctx.workDir} LIBC=${ctx.libc} INIT=${s.agentInit}`;
  });
}

/** The agent's place in the tree, relative to its root. */
const agentRel = (ctx: RootfsContext) => relative(ctx.workDir, ctx.agentDest);

/**
 * Strip the agent on a copy outside the tree, then put the copy in its
 * place: strip itself would write through a link or a shared inode.
 */
async function stripAgent(tree: GuestTree, rel: string): Promise<void> {
  if (!(await haveCommand('strip'))) return;
  const path = tree.resolve(rel);
  if (fx.planning) {
    await $`strip ${path}`;
    return;
  }
  if (!tree.isFile(rel)) return;
  const scratch = fx.mkdtemp(join(tmpdir(), 'osbuilder-strip-'));
  try {
    const copy = join(scratch, 'kata-agent');
    fx.copy(path, copy);
    const r = await $({ nothrow: true })`strip ${copy}`;
    if (r.exitCode !== 0) warn(`could not strip ${path}: left as is`);
    else tree.copy(copy, relative(tree.root, path));
  } finally {
    fx.remove(scratch, { recursive: true, force: true });
  }
}

/** Install the agent as usr/bin/AGENT_BIN (setupRootfs step 5), every write through the in-tree writer. */
export async function installAgent(ctx: RootfsContext, source: AgentSource): Promise<void> {
  const tree = guestTree(ctx.workDir);
  const rel = agentRel(ctx);
  if (source.kind === 'binary') {
    // Whatever was in its place (a file of the distro, a leftover) lends it no mode or owner.
    tree.copy(source.path, rel, { mode: 0o755, uid: 0, gid: 0 });
    ok(`cp ${source.path} ${ctx.agentDest}`);
  } else if (source.kind === 'tarball') {
    await unpackTarball(ctx.workDir, { variable: 'AGENT_TARBALL', path: source.path, compression: 'zstd' });
  } else {
    await buildFromSource(ctx, source.dir);
  }
  await stripAgent(tree, rel);
  if (!fx.planning && !isExecutableFile(tree.resolve(rel))) die(`${ctx.agentDest} is not installed in ${ctx.workDir} (or not executable): check the agent source`);
  ok('Agent installed');
}

/** kata-agent.service for a bare agent binary: output on the console, no dependency on pruned units. */
export function agentServiceUnit(agentPath: string): string {
  return `[Unit]
Description=Kata Containers Agent
Wants=${AGENT_TARGET}
After=local-fs.target

[Service]
Type=simple
ExecStart=${agentPath}
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
LimitNOFILE=1048576
FailureAction=poweroff
OOMScoreAdjust=-997
`;
}

export function agentTargetUnit(): string {
  return `[Unit]
Description=Kata Containers Agent Target
Requires=basic.target
Requires=${AGENT_UNIT}
Conflicts=rescue.service rescue.target
After=basic.target rescue.service rescue.target
AllowIsolate=yes
`;
}

/** AGENT_INIT=yes: the agent becomes sbin/init (setupRootfs step 6). */
export function makeAgentInit(ctx: RootfsContext): void {
  info(`Install ${ctx.agentDest} as init process`);
  const tree = guestTree(ctx.workDir);
  tree.mkdir('sbin');
  tree.unlink('sbin/init');
  fx.rename(tree.entry(agentRel(ctx)), tree.entry('sbin/init'));
  ok('Agent is installed as init process');
}

/**
 * AGENT_INIT=no: systemd starts the agent through kata-containers.target,
 * enabled under basic.target. Units the agent's `make install` brought are
 * kept; a bare binary gets ours.
 */
export async function enableAgentService(ctx: RootfsContext): Promise<void> {
  info('Setup systemd-based environment for kata-agent');
  const root = ctx.workDir;
  const tree = guestTree(root);
  tree.mkdir(UNIT_DIR);
  const service = `${UNIT_DIR}/${AGENT_UNIT}`;
  if (!tree.isFile(service)) tree.write(service, agentServiceUnit(`/usr/bin/${ctx.settings.agentBin}`));
  if (!tree.isFile(AGENT_TARGET_PATH)) tree.write(AGENT_TARGET_PATH, agentTargetUnit());
  tree.symlink(`/${AGENT_TARGET_PATH}`, `etc/systemd/system/basic.target.wants/${AGENT_TARGET}`);
  if (tree.isFile(`${UNIT_DIR}/dbus.socket`)) {
    tree.symlink(`/${UNIT_DIR}/dbus.socket`, `etc/systemd/system/${AGENT_TARGET}.wants/dbus.socket`);
  }
  await $`chmod g+rx,o+x ${root}`;
}
