// Distro configurations: each `rootfs/<name>/config.ts` exports a
// `DistroConfig` as its default export — plain data plus an optional
// `buildRootfs` override. The generic flow never names a distro.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SettingSpec } from './cli.ts';
import type { RootfsContext } from './context.ts';
import { die } from './log.ts';

/** The settings a distro's package list may depend on. */
export interface PackageInputs {
  agentInit: 'yes' | 'no';
  seccomp: 'yes' | 'no';
  arch: string;
}

/** dnf repository facts for the default (dnf/yum) builder. */
export interface DnfRepo {
  /** `metalink=` URL, `$basearch` left for dnf; a function of the release. */
  metalink?: (osVersion: string) => string;
  /** `mirrorlist=` URL; a function of the release. */
  mirrorList?: (osVersion: string) => string;
  /** GPG key URL, fetched once into the distro folder as `gpgKeyFile`. */
  gpgKeyUrl?: (osVersion: string) => string;
  gpgKeyFile?: string;
  /** Repository name in the generated config (default: base). */
  repoName?: string;
  /** Package managers to look for, first found wins (default: dnf, yum); PKG_MANAGER overrides. */
  packageManagers?: string[];
  /** dnf's `--releasever` for an OS_VERSION (default: OS_VERSION itself). */
  releasever?: (osVersion: string) => string;
}

export interface DistroConfig {
  /** OS_NAME: recorded in the summary file and used in the default rootfs dir. */
  name: string;
  /** Default OS_VERSION. */
  osVersion: string;
  /** PACKAGES, as a function of the settings. */
  packages: (s: PackageInputs) => string[];
  /** Test configuration (`-t`): which process is init in the built rootfs. */
  initProcess: 'systemd' | 'kata-agent';
  /** Architectures (`uname -m`) the distro cannot be built for. */
  archExcludeList?: string[];
  /** With GRACEFUL_EXIT set, a failed build of this distro exits 0. */
  buildCanFail?: boolean;
  /** LIBC the agent is built against when LIBC is unset (default: musl). */
  libc?: string;
  /** Default package repository (REPO_URL overrides it); unset: the tool's default. */
  repoUrl?: string;
  /** chrony config file and unit, relative to the rootfs root. */
  chrony: { conf: string; unit: string };
  /** dnf repository facts, for the default builder. */
  dnf?: DnfRepo;
  /** Settings of this distro's own builder (shown by -h, resolved into ctx.distroSettings). */
  settings?: Record<string, SettingSpec<any>>;
  /** The build container needs `--security-opt apparmor=unconfined` on non-Red-Hat hosts (debootstrap mounts). */
  containerAppArmorUnconfined?: boolean;
  /** Per-architecture overrides of the fields above. */
  archOverrides?: Record<string, Partial<Omit<DistroConfig, 'archOverrides'>>>;
  /** Populate ctx.workDir with the distro; default: lib's dnf-based builder. */
  buildRootfs?: (ctx: RootfsContext) => Promise<void>;
}

export const distrosDir = new URL('../rootfs/', import.meta.url).pathname;

/** Configs linked into a bundle (the container stage), found before the folders. */
export const bundledDistros = new Map<string, DistroConfig>();

/** The distro folders (those holding a config.ts), sorted. */
export function listDistros(dir = distrosDir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'config.ts')))
    .map((e) => e.name)
    .sort();
}

/** Load `rootfs/<name>/config.ts` and apply its override for `arch`. */
export async function loadDistro(name: string, arch: string, dir = distrosDir): Promise<DistroConfig> {
  const bundled = bundledDistros.get(name);
  if (bundled) return withArch(bundled, arch);
  const known = listDistros(dir);
  if (!/^[A-Za-z0-9._-]+$/.test(name) || !known.includes(name)) {
    die(`unknown distro "${name}": use one of ${known.join(', ')}`);
  }
  const mod = (await import(pathToFileURL(join(dir, name, 'config.ts')).href)) as { default?: DistroConfig };
  const config = mod.default;
  if (!config || typeof config.packages !== 'function') {
    die(`rootfs/${name}/config.ts must export a DistroConfig as its default export`);
  }
  return withArch(config, arch);
}

function withArch(config: DistroConfig, arch: string): DistroConfig {
  return { ...config, ...(config.archOverrides?.[arch] ?? {}) };
}

/** The `-t DISTRO` lines, as upstream prints them. */
export function testConfigText(config: DistroConfig): string {
  return `INIT_PROCESS:\t\t${config.initProcess}\nARCH_EXCLUDE_LIST:\t\t${(config.archExcludeList ?? []).join(' ')}\n`;
}

/** `uname -m` name → Debian architecture name. */
export function debianArch(arch: string): string {
  const map: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', ppc64le: 'ppc64el', s390x: 's390x' };
  return map[arch] ?? die(`architecture ${arch} is not supported: use one of ${Object.keys(map).join(', ')}`);
}
