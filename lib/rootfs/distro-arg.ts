// image.ts and initrd.ts take a rootfs directory or, as upstream's Makefile
// targets do, a DISTRO name: then ./<distro>_rootfs is used, built first by
// rootfs.ts when missing (with the caller's environment, OSBUILDER_VERSION
// and the rest), and the output's default name names the distro.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { $ } from '../core/exec.ts';
import { step } from '../core/log.ts';

const projectDir = new URL('../../', import.meta.url).pathname;

export function isDistroName(name: string): boolean {
  return /^[a-z][a-z0-9-]*$/.test(name) && existsSync(join(projectDir, 'rootfs', name, 'config.ts'));
}

/** The rootfs for the argument and, for a DISTRO, the default output name `kata-containers-<kind>-<distro>.img`. */
export async function rootfsForArg(arg: string, kind: 'image' | 'initrd'): Promise<{ rootfs: string; distroOutput?: string }> {
  if (existsSync(arg) || !isDistroName(arg)) return { rootfs: resolve(arg) };
  const rootfs = resolve(`${arg}_rootfs`);
  if (!existsSync(rootfs)) {
    await step(`Building the ${arg} rootfs in ${rootfs}`, () =>
      $({ quiet: false })`${process.execPath} ${join(projectDir, 'scripts/launch.mjs')} ${join(projectDir, 'rootfs.ts')} -r ${rootfs} ${arg}`);
  }
  return { rootfs, distroOutput: `kata-containers-${kind}-${arg}.img` };
}
