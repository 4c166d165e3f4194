// Running one stage of this project in a build container: build the image,
// bundle the stage (lib/container/bundle.ts), run it, and remove the
// container on every exit path. Used by the rootfs distro stage and by the
// image/initrd pack; knows nothing of either.
import { randomBytes } from 'node:crypto';
import { fx } from '../core/effects.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../core/cli.ts';
import { rootlessEngine } from '../core/engine-choice.ts';
import { type BuildSpec, type Engine, type RunSpec, buildArgv, checkEngine, runArgv } from './engine.ts';
import { $, failureSummary } from '../core/exec.ts';
import { die, step, warn } from '../core/log.ts';

/** This project's directory on the host. */
export const PROJECT_DIR = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
/** Fixed paths inside the build container. */
export const CONTAINER_PROJECT_DIR = '/osbuilder';
export const CONTAINER_STAGE_DIR = '/osbuilder-stage';
/** The proxy variables besides http_proxy/https_proxy, passed on only when set. */
interface MoreProxies {
  noProxy?: string;
  httpProxyUpper?: string;
  httpsProxyUpper?: string;
  noProxyUpper?: string;
}

/**
 * Build args of every build image: proxies (http_proxy and https_proxy
 * always, as upstream; no_proxy and the upper-case forms when set: all are
 * build args Docker and Podman predefine), and IMAGE_REGISTRY when set.
 */
export function commonBuildArgs(s: { httpProxy: string; httpsProxy: string; imageRegistry: string } & MoreProxies): [string, string][] {
  const more: [string, string | undefined][] = [
    ['no_proxy', s.noProxy], ['HTTP_PROXY', s.httpProxyUpper], ['HTTPS_PROXY', s.httpsProxyUpper], ['NO_PROXY', s.noProxyUpper],
  ];
  return [
    ['http_proxy', s.httpProxy],
    ['https_proxy', s.httpsProxy],
    ...more.filter((m): m is [string, string] => !!m[1]),
    ...(s.imageRegistry ? [['IMAGE_REGISTRY', s.imageRegistry] as [string, string]] : []),
  ];
}

const PROXY_NAMES = ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'];

/** The host of a proxy setting (`http://user@host:port/`, `host:port`), lower-cased. */
function proxyHost(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  try {
    return new URL(withScheme).hostname.toLowerCase().replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

/** True for localhost, 127.0.0.0/8 and ::1: the container's own loopback, not the host's. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

/** One WARNING per proxy variable that points at the host's loopback, which a container cannot reach. */
export function warnLoopbackProxies(vars: [string, string][]): void {
  for (const [name, value] of vars) {
    if (PROXY_NAMES.includes(name) && value && isLoopbackHost(proxyHost(value))) {
      warn(`${name}=${value} is on this host's loopback, which the build container cannot reach (it has its own): give the proxy an address the container can reach, e.g. the host's bridge address`);
    }
  }
}

/**
 * Splits a stream into lines, passes each to `emit` except `ERROR:` lines,
 * which are kept: the outer build reports the inner failure in its own single
 * ERROR line.
 */
export class InnerErrorFilter {
  private partial = '';
  lastError: string | undefined;
  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    if (line.startsWith('ERROR: ')) this.lastError = line.slice('ERROR: '.length);
    else this.emit(`${line}\n`);
  }
}

/** The bundler, loaded on first use: it only ever runs on the host (esbuild is external to every bundle). */
async function loadBundler(): Promise<typeof import('./bundle.ts')> {
  return import('./bundle.ts');
}

/** Run the engine, streaming its output; dies with the inner stage's error. */
async function runStage(engine: Engine, args: string[], what: string): Promise<void> {
  const stdout = new InnerErrorFilter((l) => process.stdout.write(l));
  const stderr = new InnerErrorFilter((l) => process.stderr.write(l));
  const p = $({ quiet: true, nothrow: true })`${engine} ${args}`;
  p.stdout.on('data', (d: Buffer) => stdout.push(d.toString()));
  p.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  const out = await p;
  stdout.end();
  stderr.end();
  if (out.exitCode !== 0) {
    die(`${what} failed (exit ${out.exitCode}): ${stderr.lastError ?? stdout.lastError ?? failureSummary(out)}`);
  }
}

/** One stage of this project run in a build container. */
interface ContainerJob {
  engine: Engine;
  /** The image to build; its `dockerfile` is written into the stage dir. */
  build: Omit<BuildSpec, 'dockerfile'>;
  dockerfileText: string;
  /** Entry module of the stage bundle (see stageEntry). */
  entry: string;
  /** File name of the bundle in the stage dir. */
  script: string;
  /** The run spec, given the stage dir and a unique container name. */
  run: (stageDir: string, containerName: string) => Promise<RunSpec>;
  /** What runs, for messages: "the debian rootfs stage". */
  what: string;
}

/**
 * Build the image, bundle the stage, run it; the container is removed on
 * every exit path (including SIGINT/SIGTERM).
 */
export async function runInContainer(job: ContainerJob): Promise<void> {
  const { engine } = job;
  await checkEngine(engine);
  warnLoopbackProxies(job.build.buildArgs);
  const stageDir = fx.mkdtemp(join(tmpdir(), 'osbuilder-stage-'));
  const dropStageDir = onCleanup(() => fx.remove(stageDir, { recursive: true, force: true }));
  try {
    const hostNetwork = rootlessEngine(engine);
    const build: BuildSpec = { ...job.build, dockerfile: join(stageDir, 'Dockerfile'), hostNetwork };
    fx.write(build.dockerfile, job.dockerfileText);
    await step(`Building the ${engine} image ${build.image}`, async () => {
      const r = await $({ nothrow: true })`${engine} ${buildArgv(build)}`;
      if (r.exitCode !== 0) die(`${engine} build of ${build.image} failed (exit ${r.exitCode}): ${failureSummary(r)}`);
    });
    await step(`Bundling ${job.what} for the container`, async () =>
      (await loadBundler()).bundleStage({ entry: job.entry, projectDir: PROJECT_DIR, mountedAt: CONTAINER_PROJECT_DIR, outFile: join(stageDir, job.script) }));
    const containerName = `osbuilder-${build.image.replace(/-osbuilder$/, '')}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const run: RunSpec = { ...(await job.run(stageDir, containerName)), hostNetwork };
    const dropContainer = onCleanup(async () => {
      await $({ nothrow: true })`${engine} rm -f ${containerName}`;
    });
    await step(`Running ${job.what} in ${engine} container ${containerName}`, () => runStage(engine, runArgv(run), `${job.what} in the ${engine} container`));
    dropContainer();
  } finally {
    fx.remove(stageDir, { recursive: true, force: true });
    dropStageDir();
  }
}

