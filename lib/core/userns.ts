// Rootless builds: a non-root caller without USE_DOCKER/USE_PODMAN runs the
// script again inside one user namespace (and a mount namespace of its own)
// that maps the caller to root and its subordinate range (/etc/subuid,
// /etc/subgid, set up by newuidmap/newgidmap) to ids 1..N. Inside, the build
// is the root build: package files keep their owners as the guest sees them;
// on disk they belong to the caller and its subordinate ids.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { selfCommand } from './cli.ts';
import { undoing } from './exec.ts';
import { die, info } from './log.ts';
import { removeTreesWith } from './safe-paths.ts';

/** Set inside the namespace: the script is the re-run, it does not enter again. */
export const USERNS_VARIABLE = 'OSBUILDER_USERNS';
/** Ids a guest tree may use: Debian's and Fedora's system and nobody ids fit below 65536. */
export const NEEDED_IDS = 65536;

export interface SubRange {
  start: number;
  count: number;
}

/** The caller's first subordinate range in a /etc/subuid-style file (by name or by number), if any. */
export function subordinateRange(text: string, name: string, id: number): SubRange | undefined {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === name || who === String(id)) && /^\d+$/.test(start ?? '') && /^\d+$/.test(count ?? '') && Number(count) > 0) {
      return { start: Number(start), count: Number(count) };
    }
  }
  return undefined;
}

const readOr = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

export interface RootlessPlan {
  uid: number;
  gid: number;
  user: string;
  uids: SubRange;
  gids: SubRange;
}

/** Why user namespaces are off here (the sysctl to change), or undefined when the kernel settings allow them. */
export function usernsDisabledReason(readSysctl: (path: string) => string = (p) => readOr(p).trim()): string | undefined {
  if (readSysctl('/proc/sys/user/max_user_namespaces') === '0') return 'user.max_user_namespaces is 0: set it, e.g. sysctl -w user.max_user_namespaces=15000';
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0') return 'kernel.unprivileged_userns_clone is 0: sysctl -w kernel.unprivileged_userns_clone=1';
  if (readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return 'AppArmor restricts them (kernel.apparmor_restrict_unprivileged_userns=1): sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give unshare an AppArmor profile allowing userns';
  }
  return undefined;
}

/**
 * What a rootless build of this caller needs, checked before any work; each
 * gap is one ERROR naming its fix. `what`: the script's job, for the messages.
 */
export function rootlessPlan(what: string, env: NodeJS.ProcessEnv = process.env): RootlessPlan {
  const uid = process.geteuid!();
  const gid = process.getegid!();
  const user = userInfo().username;
  const fix = `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user} (as root)`;
  const uids = subordinateRange(readOr('/etc/subuid'), user, uid);
  const gids = subordinateRange(readOr('/etc/subgid'), user, uid);
  const pre = `${what} without root (uid ${uid}, no USE_DOCKER/USE_PODMAN) runs in a user namespace`;
  if (!uids || !gids) {
    die(`${pre} mapping ${user}'s subordinate ids, and ${user} has no range in ${!uids ? '/etc/subuid' : '/etc/subgid'}: give it one with ${fix}, run as root, or set USE_DOCKER=1 (or USE_PODMAN=1) to build in a container`);
  }
  const small = [uids.count < NEEDED_IDS && `${uids.count} uids`, gids.count < NEEDED_IDS && `${gids.count} gids`].filter(Boolean);
  if (small.length) {
    die(`${pre}, and ${user}'s subordinate range (${small.join(', ')}) is too small for a guest's ids: it needs ${NEEDED_IDS}; give it one with ${fix}`);
  }
  for (const tool of ['newuidmap', 'newgidmap']) {
    if (!onPath(tool, env)) die(`${pre}, which needs ${tool}, and it is not installed: apt-get install uidmap (dnf install shadow-utils), or run as root`);
  }
  if (!onPath('unshare', env)) die(`${pre}, which needs unshare, and it is not installed: apt-get install util-linux`);
  const off = usernsDisabledReason();
  if (off) die(`${pre}, and user namespaces are disabled on this host: ${off}`);
  return { uid, gid, user, uids, gids };
}

/** unshare's command line entering the namespace (pure): the caller is root, its ranges 1..N. */
export function unshareArgv(p: RootlessPlan, command: string[]): string[] {
  return [
    'unshare', '--map-root-user',
    `--map-users=${p.uids.start},1,${p.uids.count}`,
    `--map-groups=${p.gids.start},1,${p.gids.count}`,
    '--mount', '--propagation', 'private', '--',
    // A /dev/shm of its own: the host's may hold other builds' mounts, which a namespace may not bind without them
    // (mmdebstrap binds /dev/shm into the tree); the RAM stage lives and dies with the namespace (no nodev: BUILD_IN_RAM refuses it).
    'sh', '-c', 'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec "$@"', 'sh', ...command,
  ];
}

/** True when this process should re-run itself in the namespace: non-root, no engine, not inside already. */
export function wantsRootless(engine: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return (process.geteuid?.() ?? 0) !== 0 && !engine && !env[USERNS_VARIABLE];
}

/** True in a user namespace (a rootless build's, a rootless container's): the initial one maps every id onto itself, `0 0 4294967295`. */
export function insideUserNamespace(uidMapFile = '/proc/self/uid_map'): boolean {
  let map: string;
  try {
    map = readFileSync(uidMapFile, 'utf8');
  } catch {
    return false;
  }
  return map.trim().split(/\s+/).join(' ') !== '0 0 4294967295';
}

/** Run `command` in the namespace; resolves to its exit code (a signal's death as 128+n). Signals to us go on to it. */
export function runInUserns(p: RootlessPlan, command: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [cmd, ...args] = unshareArgv(p, command);
  const child = spawn(cmd!, args, { stdio: 'inherit', env: { ...env, [USERNS_VARIABLE]: '1' } });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return new Promise((resolve) => {
    child.on('error', (e) => die(`cannot start unshare: ${e.message}`));
    child.on('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(code ?? 128 + (signal ? osSignal(signal) : 1));
    });
  });
}

const osSignal = (s: NodeJS.Signals): number => ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[s] ?? 1;

/**
 * Re-run this script (same node flags, same arguments, same environment) in
 * the namespace and exit with its code; says so in one INFO line.
 */
export async function rerunRootless(what: string, env: NodeJS.ProcessEnv = process.env): Promise<never> {
  const p = rootlessPlan(what, env);
  // The namespace's process stops and cleans up on a signal (it gets ours too): this one only waits for it.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.removeAllListeners(sig);
  info(`Rootless: ${what} runs in a user namespace as root, mapping uid ${p.uid} to 0 and ${p.user}'s subordinate ids ${p.uids.start}-${p.uids.start + p.uids.count - 1} to 1-${p.uids.count}`);
  const code = await runInUserns(p, selfCommand(), env);
  process.exit(code);
}

/** For tools only reading a tree (image, initrd, SBOM): the namespace when this caller has one to enter, else undefined. */
export function rootlessAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  const user = userInfo().username;
  const uid = process.geteuid?.() ?? 0;
  return !!subordinateRange(readOr('/etc/subuid'), user, uid) && !!subordinateRange(readOr('/etc/subgid'), user, uid) &&
    onPath('newuidmap', env) && onPath('newgidmap', env) && !usernsDisabledReason();
}

/** Remove `dir` (a rootless build's tree: the caller's and its subordinate ids' files) as root of the namespace. */
export async function removeInUserns(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const code = await runInUserns(rootlessPlan(`removing ${dir}`, env), ['rm', '-rf', '--one-file-system', dir], env);
  if (code !== 0) die(`removing ${dir} in a user namespace failed (exit ${code}): remove it by hand with unshare --map-root-user --map-auto rm -rf ${dir}`);
}

/** From now on, removeTree hands what the caller cannot remove (subordinate ids' files) to the namespace. */
export function useUsernsRemoval(env: NodeJS.ProcessEnv = process.env): void {
  removeTreesWith((dir) => undoing(() => removeInUserns(dir, env)));
}
