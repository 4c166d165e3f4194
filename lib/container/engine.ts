// Container engines (Docker, Podman): whether the chosen one can
// be used from here, and the exact `build` / `run` command lines (pure
// builders, so every argument is unit-tested).
import { $, failureSummary, haveCommand } from '../core/exec.ts';
import { die } from '../core/log.ts';

export { type Engine, engineFor } from '../core/engine-choice.ts';
import type { Engine } from '../core/engine-choice.ts';

/** The variable that points each engine's client at another daemon. */
export const HOST_VARIABLE: Record<Engine, string> = { docker: 'DOCKER_HOST', podman: 'CONTAINER_HOST' };

/** The endpoint when the engine runs on another machine (a unix socket is local). */
export function remoteEndpoint(engine: Engine, env: NodeJS.ProcessEnv): string | undefined {
  const url = env[HOST_VARIABLE[engine]];
  if (!url || url.startsWith('unix://') || url.startsWith('/')) return undefined;
  return url;
}

export interface BuildSpec {
  engine: Engine;
  image: string;
  /** Build context: the distro's folder. */
  contextDir: string;
  dockerfile: string;
  buildArgs: [name: string, value: string][];
  /** OCI runtime of the RUN steps (podman only: docker build has no such option). */
  runtime?: string;
  /** RUN steps share the caller's network (see RunSpec.hostNetwork). */
  hostNetwork?: boolean;
}

/** `<engine> build ...` arguments (without the program name). */
export function buildArgv(b: BuildSpec): string[] {
  const args = ['build'];
  if (b.engine === 'podman' && b.runtime) args.push('--runtime', b.runtime);
  if (b.hostNetwork) args.push('--network', 'host');
  for (const [name, value] of b.buildArgs) args.push('--build-arg', `${name}=${value}`);
  args.push('-t', b.image, '-f', b.dockerfile, b.contextDir);
  return args;
}

export interface Mount {
  source: string;
  target: string;
  readOnly?: boolean;
}

export interface RunSpec {
  engine: Engine;
  image: string;
  /** Unique per build, so two builds never collide and a cleanup can remove it. */
  name: string;
  runtime: string;
  ulimits: string[];
  caps: string[];
  securityOpts: string[];
  env: [name: string, value: string][];
  mounts: Mount[];
  /** SELinux is enforcing labels: relabel the volumes for the container (`:Z`). */
  relabel: boolean;
  /**
   * Share the caller's network: rootless podman's own network needs
   * slirp4netns or pasta and a usable /dev/net/tun, and a rootless
   * container cannot change the host's network anyway.
   */
  hostNetwork?: boolean;
  command: string[];
}

/** A `-v` value; `:` and `,` cannot be quoted in it. */
export function volumeArg(m: Mount, relabel: boolean): string {
  for (const p of [m.source, m.target]) {
    if (/[:,]/.test(p)) die(`cannot mount ${p} into the build container: rename it without ":" or ","`);
  }
  const opts = [...(m.readOnly ? ['ro'] : []), ...(relabel ? ['Z'] : [])];
  return `${m.source}:${m.target}${opts.length ? `:${opts.join(',')}` : ''}`;
}

/** `<engine> run ...` arguments (without the program name). */
export function runArgv(r: RunSpec): string[] {
  return [
    'run', '--rm', '--name', r.name, '--runtime', r.runtime,
    ...(r.hostNetwork ? ['--network', 'host'] : []),
    ...r.ulimits.flatMap((u) => ['--ulimit', u]),
    ...r.caps.flatMap((c) => ['--cap-add', c]),
    ...r.securityOpts.flatMap((o) => ['--security-opt', o]),
    ...r.env.flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    ...r.mounts.flatMap((m) => ['-v', volumeArg(m, r.relabel)]),
    r.image,
    ...r.command,
  ];
}

const PACKAGE: Record<Engine, string> = { docker: 'docker.io', podman: 'podman' };
const VERSION_FORMAT: Record<Engine, string> = { docker: '{{.ServerVersion}}', podman: '{{.Version.Version}}' };

/**
 * Make sure `engine` can run our build: installed, reachable, and on this
 * machine (the build bind-mounts local directories). Dies with the fix.
 */
export async function checkEngine(engine: Engine, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const remote = remoteEndpoint(engine, env);
  if (remote) {
    die(
      `${HOST_VARIABLE[engine]}=${remote} is a remote ${engine} engine: the container build bind-mounts ` +
        `local directories (the project, the rootfs), which a remote engine cannot see; ` +
        `unset ${HOST_VARIABLE[engine]} to use this machine's engine, or build on the engine's machine`,
    );
  }
  if (!(await haveCommand(engine))) {
    die(`${engine} is not installed: install it (apt-get install ${PACKAGE[engine]}) or build on the host without USE_DOCKER/USE_PODMAN`);
  }
  const r = await $({ nothrow: true, env })`${engine} info --format ${VERSION_FORMAT[engine]}`;
  if (r.exitCode !== 0) {
    die(`${engine} is not running or not reachable (${failureSummary(r)}): start it (scripts/engines.ts start ${engine} starts a private one)`);
  }
}

/** True when SELinux is enabled on this host (volumes then need relabelling). */
export async function selinuxEnabled(): Promise<boolean> {
  if (!(await haveCommand('selinuxenabled'))) return false;
  return (await $({ nothrow: true })`selinuxenabled`).exitCode === 0;
}
