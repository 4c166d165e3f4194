// image.ts and initrd.ts with USE_DOCKER / USE_PODMAN: the same script,
// bundled, run in the `image-builder-osbuilder` container (image-builder/
// Dockerfile: the distro's Node and the filesystem tools). Both fill their
// output without loop devices or mounts, so the container gets no
// --privileged, no extra capabilities and no host /dev: only the rootfs
// (read-only) and the output directory are mounted.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type Settings } from '../core/cli.ts';
import { type engineSettings, type proxySettings } from '../core/shared-settings.ts';
import { callerOwner } from '../core/engine-choice.ts';
import { outputSbomPath } from '../sbom/paths.ts';
import { OWNER_VARIABLE } from './owner.ts';
import {
  CONTAINER_PROJECT_DIR, CONTAINER_STAGE_DIR, PROJECT_DIR, commonBuildArgs, runInContainer,
} from './run.ts';
import { type Engine, type Mount, type RunSpec, selinuxEnabled } from './engine.ts';

type PackTool = 'image' | 'initrd';

const PACK_IMAGE = 'image-builder-osbuilder';
const PACK_CONTEXT_DIR = join(PROJECT_DIR, 'image-builder');
const CONTAINER_ROOTFS = '/rootfs';
const CONTAINER_OUTPUT = '/output';

/** The container's settings: the script's resolved engine and proxy settings (lib/core/shared-settings.ts). */
type PackSettings = Settings<typeof engineSettings> & Settings<typeof proxySettings>;

interface PackJob {
  tool: PackTool;
  engine: Engine;
  rootfs: string;
  /** Absolute path of the file to write. */
  output: string;
  /** Variables for the inner run: the script's settings marked `container` (cli.ts containerEnv). */
  env: [string, string][];
  /** Host files the settings name (NSDAX_BIN...), mounted read-only at the same path. */
  extraFiles?: string[];
  settings: PackSettings;
  /** `uid:gid` of a non-root caller: the container gives it what it writes. */
  owner?: string;
}

/** What the run writes, as the container sees it: the output, its SBOM and, measured, the root hash file. */
export function packOutputs(job: PackJob): string[] {
  const output = `${CONTAINER_OUTPUT}/${basename(job.output)}`;
  const env = new Map(job.env);
  const rootHash = job.tool === 'image' && env.get('MEASURED_ROOTFS') === 'yes' ? [`${CONTAINER_OUTPUT}/root_hash_${env.get('BUILD_VARIANT') ?? ''}.txt`] : [];
  return [output, outputSbomPath(output), ...rootHash];
}

/** The bundle's entry; `owned`: files to give to the caller (OWNER_VARIABLE) once written. */
export function packEntry(tool: PackTool, owned: string[] = []): string {
  return [
    "import { runMain } from './lib/core/cli.ts';",
    `import { main } from './${tool}.ts';`,
    ...(owned.length
      ? ["import { giveToCaller } from './lib/container/owner.ts';", `await runMain(async () => { await main(); giveToCaller(${JSON.stringify(owned)}); });`]
      : ['await runMain(() => main());']),
    '',
  ].join('\n');
}

export function packRunSpec(job: PackJob, stageDir: string, containerName: string, relabel: boolean): RunSpec {
  const mounts: Mount[] = [
    { source: PROJECT_DIR, target: CONTAINER_PROJECT_DIR, readOnly: true },
    { source: stageDir, target: CONTAINER_STAGE_DIR, readOnly: true },
    { source: job.rootfs, target: CONTAINER_ROOTFS, readOnly: true },
    { source: dirname(job.output), target: CONTAINER_OUTPUT },
    ...(job.extraFiles ?? []).map((f) => ({ source: f, target: f, readOnly: true })),
  ];
  return {
    engine: job.engine,
    image: PACK_IMAGE,
    name: containerName,
    runtime: job.settings.dockerRuntime,
    ulimits: [],
    caps: [],
    securityOpts: [],
    env: [...job.env, ['INSIDE_CONTAINER', '1'], ...(job.owner ? [[OWNER_VARIABLE, job.owner] as [string, string]] : []), ['HOME', '/root']],
    mounts,
    relabel,
    command: ['node', `${CONTAINER_STAGE_DIR}/${job.tool}-stage.mjs`, '-o', `${CONTAINER_OUTPUT}/${basename(job.output)}`, CONTAINER_ROOTFS],
  };
}

/** Run image.ts or initrd.ts for `job` in the build container; the caller has checked its paths (lib/core/input-checks.ts). */
export async function packInContainer(given: PackJob): Promise<void> {
  const owner = callerOwner(given.engine);
  const job = owner ? { ...given, owner } : given;
  await runInContainer({
    engine: job.engine,
    build: {
      engine: job.engine,
      image: PACK_IMAGE,
      contextDir: PACK_CONTEXT_DIR,
      buildArgs: commonBuildArgs(job.settings),
      runtime: job.settings.dockerRuntime,
    },
    dockerfileText: readFileSync(join(PACK_CONTEXT_DIR, 'Dockerfile'), 'utf8'),
    entry: packEntry(job.tool, job.owner ? packOutputs(job) : []),
    script: `${job.tool}-stage.mjs`,
    run: async (stageDir, name) => packRunSpec(job, stageDir, name, await selinuxEnabled()),
    what: `${job.tool}.ts for ${basename(job.output)}`,
  });
}
