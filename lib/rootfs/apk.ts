// The Alpine builder (upstream alpine/rootfs_lib.sh): apk.static installs
// the packages into an empty root with --initdb. The mirror is REPO_URL or,
// without one, the one the host's own /etc/apk/repositories names (the
// Alpine build container's), never a built-in host.
import { existsSync, readFileSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { join } from 'node:path';
import type { RootfsContext } from './types.ts';
import { $, haveCommand } from '../core/exec.ts';
import { die, step, warn } from '../core/log.ts';
import { withDownloadRetries } from '../core/retry.ts';
import { emptyTarget } from './fresh-target.ts';
import { explainMissingPackages } from './missing-packages.ts';

export const HOST_REPOSITORIES = '/etc/apk/repositories';
export const HOST_KEYS = '/etc/apk/keys';

/** The mirror base (…/alpine) of the first `<base>/<release>/main` line of a repositories file. */
export function mirrorFromRepositories(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*(?:@\S+\s+)?(\S+?)\/(?:v[0-9][0-9.]*|edge|latest-stable)\/main\/?\s*$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** `<mirror>/v<version>/main`; edge and latest-stable are branch names without the v. */
export function mainRepository(mirror: string, osVersion: string): string {
  const branch = /^[0-9]/.test(osVersion) ? `v${osVersion}` : osVersion;
  return `${mirror.replace(/\/+$/, '')}/${branch}/main`;
}

export interface ApkAddArgs {
  repository: string;
  root: string;
  arch: string;
  packages: string[];
  extraPackages: string[];
  /** No signing keys to check against: accept unsigned indexes (upstream always does). */
  allowUntrusted: boolean;
}

/** The install command line (without the program name). */
export function apkAddArgs(a: ApkAddArgs): string[] {
  return [
    '-X', a.repository, '-U',
    ...(a.allowUntrusted ? ['--allow-untrusted'] : []),
    '--root', a.root, '--arch', a.arch, '--initdb',
    'add', ...a.packages, ...a.extraPackages,
  ];
}

function mirrorOf(ctx: RootfsContext): string {
  if (ctx.repoUrl) return ctx.repoUrl;
  const fromHost = existsSync(HOST_REPOSITORIES) ? mirrorFromRepositories(readFileSync(HOST_REPOSITORIES, 'utf8')) : undefined;
  return fromHost ?? die(`no Alpine mirror: set REPO_URL to an Alpine mirror (the directory holding v${ctx.osVersion}/main), or build with USE_DOCKER=1 or USE_PODMAN=1`);
}

async function apkProgram(): Promise<string> {
  for (const p of ['apk.static', 'apk']) if (await haveCommand(p)) return p;
  return die('apk.static is not installed: build alpine with USE_DOCKER=1 or USE_PODMAN=1 (the build container has it), or install apk-tools-static');
}

/** `DistroConfig.buildRootfs` of Alpine. */
export async function buildAlpineRootfs(ctx: RootfsContext): Promise<void> {
  const root = ctx.workDir;
  const repository = mainRepository(mirrorOf(ctx), ctx.osVersion);
  const apk = await apkProgram();
  fx.mkdir(root, { recursive: true });
  // The host's keys (the build container's) let apk check the signatures.
  const trusted = existsSync(HOST_KEYS);
  const copyKeys = async () => {
    fx.mkdir(join(root, 'etc/apk'), { recursive: true });
    await $`cp -a ${HOST_KEYS} ${join(root, 'etc/apk')}/`;
  };
  if (trusted) await copyKeys();
  else warn(`no ${HOST_KEYS} on this host: installing from ${repository} without signature checks`);
  const args = apkAddArgs({ repository, root, arch: ctx.arch, packages: ctx.packages, extraPackages: ctx.extraPackages, allowUntrusted: !trusted });
  // A retry starts again from an empty root (--initdb), keys included.
  const beforeRetry = async () => {
    await emptyTarget(root);
    if (trusted) await copyKeys();
  };
  await step(`${apk} add (${[...ctx.packages, ...ctx.extraPackages].join(' ')})`, () =>
    explainMissingPackages(ctx, () => withDownloadRetries(`${apk} add`, () => $`${apk} ${args}`, { beforeRetry })));
  for (const d of ['root', 'etc/apk', 'proc']) fx.mkdir(join(root, d), { recursive: true });
  fx.write(join(root, 'etc/apk/repositories'), `${repository}\n`);
}
