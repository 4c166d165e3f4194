// The context passed explicitly through every rootfs step: the resolved
// settings, the loaded distro (if any) and the paths. No globals.
import { dirname, join } from 'node:path';
import type { RootfsSettings } from './settings.ts';
import type { RootfsContext } from './types.ts';
import { type Arch, checkArch, hostArch } from '../core/arch.ts';


const GNU_ONLY_ARCHES = ['ppc64le', 's390x'];

/** ARCH, else the host's; an architecture outside the table is an error. */
export function targetArch(settings: RootfsSettings): Arch {
  return checkArch(settings.arch || hostArch());
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
