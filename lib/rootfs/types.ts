// The two types every rootfs step shares, in one module because each refers
// to the other: the build context, and a distro's configuration (whose
// optional builder takes the context).
import type { SettingSpec } from '../core/cli.ts';
import type { RootfsSettings } from './settings.ts';

export interface RootfsContext {
  settings: RootfsSettings;
  /** The project directory (where rootfs.ts lives). */
  scriptDir: string;
  /** Target architecture, `uname -m` style. */
  arch: string;
  /** LIBC after the architecture rule (gnu on ppc64le/s390x). */
  libc: string;
  /** Distro name as given on the command line, or the host's ID without one. */
  distroName: string;
  /** The loaded distro config; undefined for an overlay of an existing tree. */
  distro?: DistroConfig;
  /** The distro's own resolved settings (DistroConfig.settings). */
  distroSettings: Record<string, unknown>;
  /** rootfs/<distro>: the distro's folder (Dockerfile.in, keys). */
  configDir: string;
  osName: string;
  osVersion: string;
  packages: string[];
  extraPackages: string[];
  /** REPO_URL, else the distro's default, else '' (the tool's default). */
  repoUrl: string;
  /** Where the rootfs ends up. */
  rootfsDir: string;
  /** Where it is built: a temporary sibling renamed into place, or rootfsDir itself. */
  workDir: string;
  /** Path of init inside workDir (workDir/sbin/init). */
  initPath: string;
  /** Agent destination inside workDir (usr/bin/AGENT_BIN). */
  agentDest: string;
}

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
  /** Default OS_VERSION; unset: OS_VERSION is required (upstream's Ubuntu). */
  osVersion?: string;
  /** The distro whose release OS_VERSION names, when it is another's (devkit: ubuntu). */
  releaseOf?: string;
  /** The release named in the ERROR when OS_VERSION is required and unset (the one kata-deploy builds). */
  osVersionExample?: string;
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
  /** x86_64 has its own mirror (Ubuntu: archive vs ports), so REPO_URL_X86_64 replaces REPO_URL there. */
  separateX86_64Mirror?: boolean;
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
  /** The distro whose package cache this one shares: it reads the same archive the same way (devkit: ubuntu). */
  packageCacheOf?: string;
  /** A guest extension, never a guest root (no init, no agent): built with ROOTFS_ONLY=yes only. */
  extensionOnly?: boolean;
  /** Inputs of the distro stage besides the settings and sources (e.g. a pin read from versions.yaml), for the build cache. */
  stageInputs?: (ctx: RootfsContext) => Record<string, string>;
  /** Populate ctx.workDir with the distro; default: lib's dnf-based builder. */
  buildRootfs?: (ctx: RootfsContext) => Promise<void>;
  /**
   * A builder that can install packages over a copy of a finished tree: the
   * AGENT_INIT=no tree is then always the AGENT_INIT=yes tree (built, or
   * taken from the distro-tree cache) plus what AGENT_INIT=no adds
   * (lib/rootfs/init-layer.ts). `usable`: whether the settings' tool can.
   */
  buildRootfsOver?: {
    usable: (ctx: RootfsContext) => Promise<boolean>;
    build: (ctx: RootfsContext, layer: string, packages: string[]) => Promise<void>;
  };
}
