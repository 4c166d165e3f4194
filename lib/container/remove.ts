// Removing a tree a container build left root-owned, for a non-root caller
// (USE_DOCKER): the caller cannot unlink root's files, so the `rm` runs in a
// container of one of this project's build images, with the tree's parent
// directory mounted. With podman (rootless for a non-root caller), in
// `podman unshare`. removeTree (lib/core/safe-paths.ts) calls
// it once `useContainerRemoval` has routed it here.
import { randomBytes } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { $, failureSummary, undoing } from '../core/exec.ts';
import { die } from '../core/log.ts';
import { removeTreesWith } from '../core/safe-paths.ts';
import { type Engine, type RunSpec, runArgv, selinuxEnabled } from './engine.ts';

const CONTAINER_PARENT = '/parent';

/** Build images of this project are all named `*-osbuilder` (podman shows them under localhost/). */
export function projectImages(repositories: string[]): string[] {
  return [...new Set(repositories.map((r) => r.trim().replace(/^localhost\//, '')).filter((r) => r.endsWith('-osbuilder')))];
}

/** The first of `preferred` that the engine has, else any other build image of this project. */
export function pickImage(present: string[], preferred: string[]): string | undefined {
  return preferred.find((p) => present.includes(p)) ?? present[0];
}

interface Removal {
  engine: Engine;
  image: string;
  dir: string;
  runtime: string;
  /** SELinux: the parent is not relabelled (that would relabel all of it); labels are off for this container. */
  selinux: boolean;
  name: string;
}

/** The `run` of a removal (pure). */
export function removalRunSpec(r: Removal): RunSpec {
  return {
    engine: r.engine,
    image: r.image,
    name: r.name,
    runtime: r.runtime,
    ulimits: [],
    caps: [],
    securityOpts: r.selinux ? ['label=disable'] : [],
    env: [],
    mounts: [{ source: dirname(r.dir), target: CONTAINER_PARENT }],
    relabel: false,
    command: ['rm', '-rf', '--one-file-system', `${CONTAINER_PARENT}/${basename(r.dir)}`],
  };
}

/** Remove `dir` as root in a build container; dies saying what to do when that fails. */
async function removeInContainer(engine: Engine, dir: string, preferredImages: string[], runtime: string): Promise<void> {
  if (engine === 'podman') {
    // A non-root caller's podman is rootless: its containers' files are the caller's or its subordinate ids', which `podman unshare` may remove.
    const r = await $({ nothrow: true })`podman unshare rm -rf --one-file-system ${dir}`;
    if (r.exitCode !== 0) die(`removing ${dir} with podman unshare failed (exit ${r.exitCode}): ${failureSummary(r)}`);
    return;
  }
  const listed = await $({ nothrow: true })`${engine} images --format ${'{{.Repository}}'}`;
  const image = pickImage(projectImages(listed.stdout.split('\n')), preferredImages);
  if (!image) {
    die(`cannot remove ${dir} (root-owned, left by a container build): ${engine} has no build image of this project to remove it with; remove it as root (sudo rm -rf ${dir})`);
  }
  const name = `osbuilder-remove-${process.pid}-${randomBytes(3).toString('hex')}`;
  const spec = removalRunSpec({ engine, image, dir, runtime, selinux: await selinuxEnabled(), name });
  const r = await $({ nothrow: true })`${engine} ${runArgv(spec)}`;
  if (r.exitCode !== 0) die(`removing ${dir} in a ${engine} container failed (exit ${r.exitCode}): ${failureSummary(r)}`);
}

/**
 * From now on, removeTree hands what the caller cannot remove to a container
 * of `engine` (a build image of this project: `preferredImages` first).
 */
export function useContainerRemoval(engine: Engine, preferredImages: string[], runtime: string): void {
  removeTreesWith((dir) => undoing(() => removeInContainer(engine, dir, preferredImages, runtime)));
}
