// The default builder (upstream lib.sh build_rootfs): dnf or yum with
// --installroot and a generated config naming one repository.
import { existsSync, readdirSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { machine, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { onCleanup } from '../core/cli.ts';
import type { RootfsContext } from './types.ts';
import type { DnfRepo } from './types.ts';
import { $, haveCommand } from '../core/exec.ts';
import { guestTree } from '../core/guest-tree.ts';
import { die, info, step } from '../core/log.ts';
import { withDownloadRetries } from '../core/retry.ts';
import { insideUserNamespace } from '../core/userns.ts';
import { emptyTarget } from './fresh-target.ts';
import { explainMissingPackages } from './missing-packages.ts';

export interface DnfConfigInput {
  osName: string;
  osVersion: string;
  cacheDir: string;
  logFile: string;
  /** An empty directory, so the host's own repo files are not read. */
  reposDir: string;
  baseUrl?: string;
  metalink?: string;
  mirrorList?: string;
  gpgKeyFile?: string;
  repoName?: string;
}

/** The dnf.conf text of docs/rootfs.md §5. */
export function dnfConfigText(c: DnfConfigInput): string {
  const lines = [
    '[main]',
    `cachedir=${c.cacheDir}`,
    `logfile=${c.logFile}`,
    'keepcache=0',
    'debuglevel=2',
    'exactarch=1',
    'obsoletes=1',
    'plugins=0',
    'installonly_limit=3',
    `reposdir=${c.reposDir}`,
    'retries=5',
    '',
    '[base]',
    `name=${c.osName}-${c.osVersion} ${c.repoName ?? 'base'}`,
  ];
  if (c.baseUrl) lines.push(`baseurl=${c.baseUrl}`);
  else if (c.metalink) lines.push(`metalink=${c.metalink}`);
  else if (c.mirrorList) lines.push(`mirrorlist=${c.mirrorList}`);
  lines.push('enabled=1');
  if (c.gpgKeyFile) lines.push('gpgcheck=1', `gpgkey=file://${c.gpgKeyFile}`);
  else lines.push('gpgcheck=0');
  return `${lines.join('\n')}\n`;
}

/**
 * The install command line (without the program name). `hostConfig`: dnf5
 * reads the config and repositories of the installroot (empty here) unless
 * given --use-host-config; dnf 4 reads the host's by itself.
 */
export function dnfInstallArgs(o: { root: string; config?: string; osVersion: string; packages: string[]; extraPackages: string[]; forceArch?: string; hostConfig?: boolean }): string[] {
  const args = ['-y', `--installroot=${o.root}`, '--noplugins', ...(o.hostConfig ? ['--use-host-config'] : [])];
  args.push(o.config ? `--config=${o.config}` : `--releasever=${o.osVersion}`);
  if (o.config) args.push(`--releasever=${o.osVersion}`);
  if (o.forceArch) args.push(`--forcearch=${o.forceArch}`);
  return [...args, 'install', ...o.extraPackages, ...o.packages];
}

/** Files removed after the install, as upstream. */
export const DNF_UNNEEDED_SHARE_DIRS = ['bash-completion', 'cracklib', 'doc', 'info', 'locale', 'man', 'misc', 'pixmaps', 'terminfo', 'zoneinfo', 'zsh'];

async function packageManager(requested: string, candidates = ['dnf', 'yum']): Promise<string> {
  if (requested) {
    info(`DNF path provided by user: ${requested}`);
    return requested;
  }
  for (const pm of candidates) if (await haveCommand(pm)) return pm;
  return die(`none of ${candidates.join(', ')} is installed: apt-get install dnf, or set PKG_MANAGER`);
}

async function fetchGpgKey(ctx: RootfsContext, repo: DnfRepo, dir: string): Promise<string | undefined> {
  if (!repo.gpgKeyUrl) return undefined;
  const file = join(ctx.configDir, repo.gpgKeyFile ?? `RPM-GPG-KEY-${ctx.osName}-${ctx.osVersion}`);
  if (existsSync(file)) return file;
  const tmp = join(dir, 'gpg-key');
  const url = repo.gpgKeyUrl(ctx.osVersion);
  await withDownloadRetries(`Fetching ${url}`, () => $`curl -fsSL ${url} -o ${tmp}`);
  return tmp;
}

/** dnf5 (Fedora 41 and later, where `dnf` is dnf5): `dnf5 version 5.…` on the first line of --version. */
export async function isDnf5(pm: string): Promise<boolean> {
  // A plan prints commands without running any: it shows the dnf 4 line.
  if (fx.planning) return false;
  const out = await $({ nothrow: true, quiet: true })`${pm} --version`;
  return /^dnf5\b/.test(out.stdout.trimStart());
}

function hostHasRepos(): boolean {
  return ['/etc/yum.repos.d', '/etc/dnf/repos.d'].some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.repo')));
}

/** `DistroConfig.buildRootfs` default: dnf/yum --installroot. */
export async function buildDnfRootfs(ctx: RootfsContext): Promise<void> {
  const root = ctx.workDir;
  const repo = ctx.distro?.dnf ?? {};
  const pm = await packageManager(ctx.settings.pkgManager, repo.packageManagers);
  fx.mkdir(root, { recursive: true });
  let config: string | undefined;
  const useHostRepos = ctx.settings.distroRepo || (!ctx.repoUrl && !repo.metalink && !repo.mirrorList);
  if (ctx.settings.dnfConf) {
    config = resolve(ctx.settings.dnfConf);
  } else if (useHostRepos) {
    if (!ctx.settings.distroRepo && !hostHasRepos()) {
      die(`no package repository for ${ctx.osName}: set REPO_URL to a ${ctx.osName} ${ctx.osVersion} repository (or build with USE_DOCKER=1 or DISTRO_REPO=1 on a host with its repos)`);
    }
  } else {
    // The config lives outside the rootfs; cachedir and logfile are
    // installroot-relative for dnf and land in var/, which setupRootfs cleans.
    const dir = fx.mkdtemp(join(tmpdir(), 'osbuilder-dnf-'));
    onCleanup(() => fx.remove(dir, { recursive: true, force: true }));
    fx.mkdir(join(dir, 'repos.d'));
    config = join(dir, `kata-${ctx.osName}-dnf.conf`);
    fx.write(
      config,
      dnfConfigText({
        osName: ctx.osName,
        osVersion: ctx.osVersion,
        cacheDir: '/var/cache/dnf',
        logFile: '/var/log/dnf.log',
        reposDir: join(dir, 'repos.d'),
        baseUrl: ctx.repoUrl || undefined,
        metalink: repo.metalink?.(ctx.osVersion),
        mirrorList: repo.mirrorList?.(ctx.osVersion),
        gpgKeyFile: ctx.repoUrl ? undefined : await fetchGpgKey(ctx, repo, dir),
        repoName: repo.repoName,
      }),
    );
  }
  const args = dnfInstallArgs({
    root,
    config,
    osVersion: repo.releasever?.(ctx.osVersion) ?? ctx.osVersion,
    packages: ctx.packages,
    extraPackages: ctx.extraPackages,
    // ARCH naming another architecture: dnf resolves $basearch and packages for it.
    forceArch: ctx.arch !== machine() ? ctx.arch : undefined,
    // The build container's (or the host's) own repositories, as dnf 4 takes them.
    hostConfig: !config && (await isDnf5(pm)),
  });
  // Debian's rpm keeps its database in ~/.rpmdb of the installroot: a rootless build (the user's HOME kept) puts it where root's does.
  const run = insideUserNamespace() ? $({ env: { ...process.env, HOME: '/root' } }) : $;
  await step(`Installing packages for the rootfs (${[...ctx.extraPackages, ...ctx.packages].join(' ')})`, () =>
    explainMissingPackages(ctx, () => withDownloadRetries(`${pm} install`, () => run`${pm} ${args}`, { beforeRetry: () => emptyTarget(root) })));
  // Resolved inside the tree: a usr/share that is a link leads into the guest's /, never the host's.
  await guestTree(root).remove(...DNF_UNNEEDED_SHARE_DIRS.map((d) => `usr/share/${d}`));
}
