// The context passed explicitly through every rootfs step: the resolved
// settings, the loaded distro (if any) and the paths. No globals.
import { machine } from 'node:os';
import { dirname, join } from 'node:path';
import type { DistroConfig } from './distro.ts';
import type { RootfsSettings } from './rootfs-settings.ts';

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

const GNU_ONLY_ARCHES = ['ppc64le', 's390x'];

export function targetArch(settings: RootfsSettings): string {
  return settings.arch || machine();
}

export function libcFor(arch: string, requested: string): string {
  if (GNU_ONLY_ARCHES.includes(arch)) return 'gnu';
  return requested || 'musl';
}

export function splitWords(s: string): string[] {
  return s.split(/[\s,]+/).filter(Boolean);
}

/** Paths that follow from workDir. */
export function withWorkDir(ctx: Omit<RootfsContext, 'workDir' | 'initPath' | 'agentDest'>, workDir: string): RootfsContext {
  return {
    ...ctx,
    workDir,
    initPath: join(workDir, 'sbin/init'),
    agentDest: join(workDir, 'usr/bin', ctx.settings.agentBin),
  };
}

/** `<parent of ROOTFS_DIR>/<distro>_fail`, touched on a tolerated failure. */
export function failMarker(ctx: RootfsContext): string {
  return join(dirname(ctx.rootfsDir), `${ctx.distroName}_fail`);
}
