// The builder of Debian-family distros: mmdebstrap (upstream's tool, the
// default when installed) or debootstrap, both with the required/minbase
// set and the distro's package list, then debian-tree.ts's finishing steps.
import { existsSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { join, resolve } from 'node:path';
import { oneOf, type Parser, type SettingSpec } from '../core/cli.ts';
import type { RootfsContext } from './types.ts';
import { debianArch } from './distro.ts';
import { $, haveCommand } from '../core/exec.ts';
import { die, step } from '../core/log.ts';
import { dropSupersededPackages, packageCacheDir } from './package-cache.ts';
import { isEmptyDir } from '../core/safe-paths.ts';
import { withDownloadRetries } from '../core/retry.ts';
import { emptyTarget } from './fresh-target.ts';
import { explainMissingPackages } from './missing-packages.ts';
import { finishDebianTree } from './debian-tree.ts';

export type BootstrapTool = 'mmdebstrap' | 'debootstrap' | '';

/** REPO_COMPONENTS as both tools take it: comma separated. */
const archiveComponents: Parser<string> = (raw, name) => {
  const names = raw.split(/[\s,]+/).filter(Boolean);
  const bad = names.find((c) => !/^[a-z0-9][a-z0-9.+/-]*$/.test(c));
  if (bad !== undefined || !names.length) die(`${name}=${raw} is not a list of archive components: give names such as "main contrib"`);
  return names.join(',');
};

/** Distro-specific settings of Debian-family configs (`DistroConfig.settings`). */
export const debootstrapSettings = {
  bootstrap: {
    env: 'DEBIAN_BOOTSTRAP',
    default: '' as BootstrapTool,
    parse: oneOf<BootstrapTool>('mmdebstrap', 'debootstrap'),
    help: 'Debian/Ubuntu bootstrap tool: mmdebstrap or debootstrap (default: mmdebstrap when installed)',
  },
  components: {
    env: 'REPO_COMPONENTS',
    default: 'main',
    parse: archiveComponents,
    help: 'archive components of the mirror, space or comma separated (e.g. "main contrib", Ubuntu "main universe")',
  },
} satisfies Record<string, SettingSpec<any>>;

export interface BootstrapArgs {
  tool: 'mmdebstrap' | 'debootstrap';
  suite: string;
  target: string;
  arch: string;
  packages: string[];
  extraPackages: string[];
  mirror: string;
  components?: string;
  /** APT_KEYRING: the only keyring trusted (both tools' --keyring). */
  keyring?: string;
  /** mmdebstrap hook directory setting up merged /usr with symlinks, as debootstrap does. */
  mergedUsrHookDir?: string;
  /** Directory of .debs kept between builds (PACKAGE_CACHE_DIR). */
  packageCache?: string;
  /** mmdebstrap customize hooks (shell commands, "$1" the target) run after the install. */
  customizeHooks?: string[];
  /**
   * mmdebstrap only: instead of a bootstrap, `packages` installed over a copy
   * of this finished tree (its dev/ aside), mmdebstrap's documented re-use of
   * a chroot: the custom variant, then its usual cleanup.
   */
  over?: string;
}

/** A word for a shell command line, whatever it holds. */
const shellWord = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * mmdebstrap's documented package-cache recipe, narrowed to packages: the
 * cache's .deb files (regular files, no links) are copied into the chroot's
 * apt archives before the download, and the new downloads are copied back
 * after the install. Not `sync-in` of the whole dir: anything else a user
 * keeps there would stay in the distro-stage tree (apt-get clean removes
 * only .debs).
 */
export function mmdebstrapCacheArgs(cache: string): string[] {
  const archives = '"$1"/var/cache/apt/archives';
  return [
    '--skip=download/empty', '--skip=essential/unlink',
    `--setup-hook=mkdir -p ${archives}`,
    `--setup-hook=find ${cache} -maxdepth 1 -type f -name '*.deb' -exec cp -t ${archives}/ {} +`,
    `--customize-hook=find ${archives} -maxdepth 1 -name '*.deb' -exec cp -n -t ${cache} {} +`,
  ];
}

/** mmdebstrap's own hook: without it, merged /usr comes from the usrmerge package, which pulls in perl. */
export const MERGED_USR_HOOK_DIR = '/usr/share/mmdebstrap/hooks/maybe-merged-usr';

/** The bootstrap command line (without the program name). */
export function bootstrapArgs(a: BootstrapArgs): string[] {
  // The same set under each tool's name: Essential, Priority: required and apt (upstream names mmdebstrap's).
  const variant = a.over ? 'custom' : a.tool === 'mmdebstrap' ? 'required' : 'minbase';
  if (a.over && a.tool !== 'mmdebstrap') throw new Error('internal: only mmdebstrap installs over an existing tree');
  const args = [`--variant=${variant}`, `--arch=${a.arch}`, `--components=${a.components ?? 'main'}`];
  if (a.keyring) args.push(`--keyring=${a.keyring}`);
  if (a.tool === 'mmdebstrap') {
    // mmdebstrap installs EXTRA_PKGS in the same pass. Like debootstrap,
    // Depends only: no Recommends. Documentation is removed afterwards
    // rather than with dpkg path-excludes, which measured ~20 s slower here.
    args.unshift('--mode=root', '--aptopt=APT::Install-Recommends "false"');
    args.push(`--include=${[...a.packages, ...a.extraPackages].join(',')}`);
    args.push('--dpkgopt=force-unsafe-io');
    // The copy goes in after mmdebstrap's setup (which made dev/). mmdebstrap's apt then downloads, against
    // the copy's dpkg status, what the packages need beyond it, and dpkg in the chroot installs that: the
    // tree needs no apt of its own (Ubuntu's required set has none).
    if (a.over) args.push(`--setup-hook=find ${shellWord(a.over)} -mindepth 1 -maxdepth 1 ! -name dev -exec cp -a -t "$1" {} +`);
    if (a.packageCache) args.push(...mmdebstrapCacheArgs(a.packageCache));
    for (const hook of a.customizeHooks ?? []) args.push(`--customize-hook=${hook}`);
    // The tree is merged already: the hook would add its links for the architectures' other lib dirs.
    if (a.mergedUsrHookDir && !a.over) args.push(`--hook-dir=${a.mergedUsrHookDir}`);
  } else {
    args.push(`--include=${a.packages.join(',')}`);
    if (a.packageCache) args.push(`--cache-dir=${a.packageCache}`);
  }
  args.push(a.suite, a.target);
  if (a.mirror) args.push(a.mirror);
  return args;
}

export async function chooseBootstrapTool(requested: BootstrapTool): Promise<'mmdebstrap' | 'debootstrap'> {
  if (requested) {
    if (!(await haveCommand(requested))) die(`DEBIAN_BOOTSTRAP=${requested} but ${requested} is not installed: install it or pick the other tool`);
    return requested;
  }
  if (await haveCommand('mmdebstrap')) return 'mmdebstrap';
  if (await haveCommand('debootstrap')) return 'debootstrap';
  return die('neither mmdebstrap nor debootstrap is installed: apt-get install mmdebstrap');
}

export interface BootstrapOptions {
  /** The tool, whatever DEBIAN_BOOTSTRAP says (a distro built with one tool only). */
  tool?: 'mmdebstrap' | 'debootstrap';
  /** mmdebstrap customize hooks. */
  customizeHooks?: string[];
  /** Install these packages over a copy of the finished tree `layer` rather than bootstrapping (mmdebstrap only). */
  over?: { layer: string; packages: string[] };
}

/** `DistroConfig.buildRootfs` of Debian-family distros. */
export async function buildDebianRootfs(ctx: RootfsContext): Promise<void> {
  await bootstrapDebianTree(ctx);
  await finishDebianTree(ctx.workDir);
}

/** The tool DEBIAN_BOOTSTRAP (or the options) pick. */
const toolOf = (ctx: RootfsContext, opts: BootstrapOptions) => chooseBootstrapTool(opts.tool ?? (ctx.distroSettings.bootstrap as BootstrapTool) ?? '');

/**
 * `DistroConfig.buildRootfsOver` of Debian-family distros: with mmdebstrap,
 * the packages AGENT_INIT=no adds are installed over the finished
 * AGENT_INIT=yes tree; debootstrap bootstraps every tree whole.
 */
export const buildDebianRootfsOver = {
  usable: async (ctx: RootfsContext) => (await toolOf(ctx, {})) === 'mmdebstrap',
  build: async (ctx: RootfsContext, layer: string, packages: string[]) => {
    await bootstrapDebianTree(ctx, { over: { layer, packages } });
    await finishDebianTree(ctx.workDir);
  },
};

/** The bootstrap of ctx.workDir with the distro's packages and EXTRA_PKGS, through the package cache. */
export async function bootstrapDebianTree(ctx: RootfsContext, opts: BootstrapOptions = {}): Promise<void> {
  const dir = ctx.workDir;
  const tool = await toolOf(ctx, opts);
  if ((opts.customizeHooks?.length || opts.over) && tool !== 'mmdebstrap') die(`${ctx.distroName} is built with mmdebstrap only: install mmdebstrap`);
  fx.mkdir(dir, { recursive: true });
  if (tool === 'mmdebstrap' && !isEmptyDir(dir)) die(`${dir} is not empty: mmdebstrap needs an empty directory`);
  const arch = debianArch(ctx.arch);
  // One cache a tool: debootstrap reads the release alone, mmdebstrap without a mirror
  // (Debian) its updates too, so sharing would make each drop the other's versions.
  const packageCache = packageCacheDir(ctx.settings.packageCacheDir, `${ctx.distro?.packageCacheOf ?? ctx.distroName}-${ctx.osVersion}-${arch}-${tool}`);
  if (packageCache) fx.mkdir(packageCache, { recursive: true });
  const args = bootstrapArgs({
    tool,
    suite: ctx.osVersion,
    target: dir,
    arch,
    packages: opts.over?.packages ?? ctx.packages,
    extraPackages: opts.over ? [] : ctx.extraPackages,
    mirror: ctx.repoUrl,
    components: ctx.distroSettings.components as string | undefined,
    keyring: ctx.settings.aptKeyring ? resolve(ctx.settings.aptKeyring) : undefined,
    mergedUsrHookDir: existsSync(MERGED_USR_HOOK_DIR) ? MERGED_USR_HOOK_DIR : undefined,
    packageCache,
    customizeHooks: opts.customizeHooks,
    over: opts.over?.layer,
  });
  const what = opts.over ? `${opts.over.packages.join(' ')} over the AGENT_INIT=yes tree` : ctx.packages.join(' ');
  // A retry starts from an empty target: mmdebstrap needs one, and debootstrap would trust a half-done tree.
  await step(`${tool} ${ctx.osVersion} (${what})`, () =>
    explainMissingPackages(ctx, () => withDownloadRetries(tool, () => $`${tool} ${args}`, { beforeRetry: () => emptyTarget(dir) })));
  if (tool === 'debootstrap' && ctx.extraPackages.length) {
    await step(`Installing EXTRA_PKGS ${ctx.extraPackages.join(' ')}`, () =>
      explainMissingPackages(ctx, () =>
        withDownloadRetries('apt-get install of EXTRA_PKGS', () => $`chroot ${dir} apt-get install -y --no-install-recommends ${ctx.extraPackages}`)));
  }
  if (packageCache) dropSupersededPackages(packageCache, join(dir, 'var/lib/dpkg/status'));
}
