// The container stage (USE_DOCKER / USE_PODMAN, SPEC §2): build the distro's
// image from its Dockerfile.in, run the distro stage of rootfs.ts in it
// (STAGE_PREPARE_ROOTFS=1: populate /rootfs and nothing else), and return so
// that setupRootfs runs on the host. The stage runs as a bundle on the
// distro's own Node (lib/stage-bundle.ts).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cli.ts';
import type { RootfsContext } from './context.ts';
import { dockerfileFor } from './dockerfile.ts';
import { type BuildSpec, type Engine, type RunSpec, buildArgv, checkEngine, engineFor, runArgv, selinuxEnabled } from './engine.ts';
import { $, failureSummary } from './exec.ts';
import { die, step } from './log.ts';
import { rootfsSettings, type RootfsSettings } from './rootfs-settings.ts';

/** This project's directory on the host. */
export const PROJECT_DIR = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
/** Fixed paths inside the build container. */
export const CONTAINER_PROJECT_DIR = '/osbuilder';
export const CONTAINER_STAGE_DIR = '/osbuilder-stage';
export const CONTAINER_ROOTFS_DIR = '/rootfs';
export const STAGE_SCRIPT = 'rootfs-stage.mjs';

/** Caps the distro stage needs: mount (SYS_ADMIN), chroot, device nodes (MKNOD). */
export const STAGE_CAPS = ['SYS_ADMIN', 'SYS_CHROOT', 'MKNOD'];
/**
 * Upstream raises nofile because apt closes every possible fd; capped at the
 * host's hard limit. Docker only: podman drops all its default_ulimits
 * (containers.conf) as soon as one --ulimit is given, and its limits are
 * that file's business.
 */
const WANTED_NOFILE = 262144;

/** Settings the distro stage reads, passed to the container under their variable names. */
const FORWARDED_SETTINGS = [
  'httpsProxy', 'httpProxy', 'agentVersion', 'agentBin', 'agentInit', 'kernelModulesDir', 'extraPkgs',
  'osbuilderVersion', 'osVersion', 'arch', 'libc', 'repoUrl', 'seccomp', 'debug',
] as const satisfies readonly (keyof RootfsSettings)[];

/** Facts about the host and this build that the run command depends on. */
export interface HostFacts {
  /** /etc/os-release ID is fedora, centos or rhel (no AppArmor there). */
  redHatHost: boolean;
  selinux: boolean;
  nofileHardLimit: number;
  containerName: string;
  /** Host dir holding the stage bundle and the generated Dockerfile. */
  stageDir: string;
}

export function imageName(distroName: string): string {
  return `${distroName}-rootfs-osbuilder`;
}

export function isRedHatFamily(osRelease: string): boolean {
  const id = /^ID="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? '';
  return ['fedora', 'centos', 'rhel'].includes(id);
}

/** A setting's value as the shell original would see it in its variable. */
function asVariable(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'true' : '';
  return String(value ?? '');
}

/** The container's environment (SPEC §2), generated from the settings tables. */
export function stageEnv(ctx: RootfsContext): [string, string][] {
  const env: [string, string][] = FORWARDED_SETTINGS.map((key) => [rootfsSettings[key].env, asVariable(ctx.settings[key])]);
  for (const [key, spec] of Object.entries(ctx.distro?.settings ?? {})) {
    if (spec.env) env.push([spec.env, asVariable(ctx.distroSettings[key])]);
  }
  env.push(['ROOTFS_DIR', CONTAINER_ROOTFS_DIR], ['INSIDE_CONTAINER', '1'], ['STAGE_PREPARE_ROOTFS', '1'], ['HOME', '/root']);
  return env;
}

/** Build args of every build image: proxies, and IMAGE_REGISTRY when set. */
export function commonBuildArgs(s: { httpProxy: string; httpsProxy: string; imageRegistry: string }): [string, string][] {
  return [
    ['http_proxy', s.httpProxy],
    ['https_proxy', s.httpsProxy],
    ...(s.imageRegistry ? [['IMAGE_REGISTRY', s.imageRegistry] as [string, string]] : []),
  ];
}

export function stageBuildSpec(ctx: RootfsContext, engine: Engine): Omit<BuildSpec, 'dockerfile'> {
  return {
    engine,
    image: imageName(ctx.distroName),
    contextDir: ctx.configDir,
    buildArgs: commonBuildArgs(ctx.settings),
    runtime: ctx.settings.dockerRuntime,
  };
}

export function stageRunSpec(ctx: RootfsContext, engine: Engine, facts: HostFacts): RunSpec {
  const modules = ctx.settings.kernelModulesDir;
  const nofile = Math.min(WANTED_NOFILE, facts.nofileHardLimit);
  return {
    engine,
    image: imageName(ctx.distroName),
    name: facts.containerName,
    runtime: ctx.settings.dockerRuntime,
    ulimits: engine === 'docker' ? [`nofile=${nofile}:${nofile}`] : [],
    caps: STAGE_CAPS,
    securityOpts: ctx.distro?.containerAppArmorUnconfined && !facts.redHatHost ? ['apparmor=unconfined'] : [],
    env: stageEnv(ctx),
    mounts: [
      { source: ctx.scriptDir, target: CONTAINER_PROJECT_DIR },
      { source: facts.stageDir, target: CONTAINER_STAGE_DIR, readOnly: true },
      { source: ctx.workDir, target: CONTAINER_ROOTFS_DIR },
      ...(modules ? [{ source: modules, target: modules, readOnly: true }] : []),
    ],
    relabel: facts.selinux,
    command: ['node', `${CONTAINER_STAGE_DIR}/${STAGE_SCRIPT}`, ctx.distroName],
  };
}

/** Entry of the stage bundle: the distro config linked in, rootfs.ts's main run (pure). */
export function stageEntry(distroName: string): string {
  return [
    "import { runMain } from './lib/cli.ts';",
    "import { bundledDistros } from './lib/distro.ts';",
    `import config from './rootfs/${distroName}/config.ts';`,
    "import { main } from './rootfs.ts';",
    `bundledDistros.set(${JSON.stringify(distroName)}, config);`,
    'await runMain(() => main());',
    '',
  ].join('\n');
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

/**
 * The bundler (esbuild) is loaded by a computed URL, so that the stage bundle
 * does not contain it: it only ever runs on the host.
 */
async function loadBundler(): Promise<typeof import('./stage-bundle.ts')> {
  return import(new URL('./stage-bundle.ts', import.meta.url).href);
}

async function hostFacts(containerName: string, stageDir: string): Promise<HostFacts> {
  return {
    redHatHost: existsSync('/etc/os-release') && isRedHatFamily(readFileSync('/etc/os-release', 'utf8')),
    selinux: await selinuxEnabled(),
    nofileHardLimit: Number((await $`ulimit -Hn`).stdout.trim()) || 1024,
    containerName,
    stageDir,
  };
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
export interface ContainerJob {
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
  const stageDir = mkdtempSync(join(tmpdir(), 'osbuilder-stage-'));
  const dropStageDir = onCleanup(() => rmSync(stageDir, { recursive: true, force: true }));
  try {
    const build: BuildSpec = { ...job.build, dockerfile: join(stageDir, 'Dockerfile') };
    writeFileSync(build.dockerfile, job.dockerfileText);
    await step(`Building the ${engine} image ${build.image}`, async () => {
      const r = await $({ nothrow: true })`${engine} ${buildArgv(build)}`;
      if (r.exitCode !== 0) die(`${engine} build of ${build.image} failed (exit ${r.exitCode}): ${failureSummary(r)}`);
    });
    await step(`Bundling ${job.what} for the container`, async () =>
      (await loadBundler()).bundleStage({ entry: job.entry, projectDir: PROJECT_DIR, mountedAt: CONTAINER_PROJECT_DIR, outFile: join(stageDir, job.script) }));
    const containerName = `osbuilder-${build.image.replace(/-osbuilder$/, '')}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const run = await job.run(stageDir, containerName);
    const dropContainer = onCleanup(async () => {
      await $({ nothrow: true })`${engine} rm -f ${containerName}`;
    });
    await step(`Running ${job.what} in ${engine} container ${containerName}`, () => runStage(engine, runArgv(run), `${job.what} in the ${engine} container`));
    dropContainer();
  } finally {
    rmSync(stageDir, { recursive: true, force: true });
    dropStageDir();
  }
}

/** The rootfs container stage of rootfs.ts (SPEC §2). */
export async function runContainerStage(ctx: RootfsContext): Promise<void> {
  const engine = engineFor(ctx.settings)!;
  await runInContainer({
    engine,
    build: stageBuildSpec(ctx, engine),
    dockerfileText: dockerfileFor(ctx),
    entry: stageEntry(ctx.distroName),
    script: STAGE_SCRIPT,
    run: async (stageDir, containerName) => stageRunSpec(ctx, engine, await hostFacts(containerName, stageDir)),
    what: `the ${ctx.distroName} rootfs stage`,
  });
}
