// The tarballs a Kata guest gets on top of the agent, unpacked at the rootfs
// root in upstream's order (guest hooks, pause image, guest components) by
// the one tar reader and writer (tar-unpack.ts).
import { resolve } from 'node:path';
import { tarCompression } from './tar-read.ts';
import { checkTarball, unpackTarball, type Tarball } from './tar-unpack.ts';
import type { RootfsSettings } from './settings.ts';

const GUEST_TARBALLS = [
  ['guestHooksTarball', 'GUEST_HOOKS_TARBALL'],
  ['pauseImageTarball', 'PAUSE_IMAGE_TARBALL'],
  ['cocoGuestComponentsTarball', 'COCO_GUEST_COMPONENTS_TARBALL'],
] as const satisfies readonly (readonly [keyof RootfsSettings, string])[];

/**
 * The tarballs that are set, in unpack order, each checked: readable, tar,
 * no entry bad in itself, nor (given `root`, an existing tree) through its symlinks.
 */
export async function checkGuestTarballs(settings: RootfsSettings, root?: string): Promise<Tarball[]> {
  const out: Tarball[] = [];
  for (const [key, variable] of GUEST_TARBALLS) {
    if (settings[key]) out.push(await checkTarball(variable, resolve(settings[key]), root));
  }
  return out;
}

/** Unpack each (its entries placed in the tree as it is then, before the first write). */
export async function unpackGuestTarballs(root: string, settings: RootfsSettings): Promise<void> {
  for (const [key, variable] of GUEST_TARBALLS) {
    const path = settings[key] && resolve(settings[key]);
    if (path) await unpackTarball(root, { variable, path, compression: tarCompression(path, variable) });
  }
}

/** Variable → absolute path of each tarball that is set (for the build manifest). */
export function guestTarballPaths(settings: RootfsSettings): [string, string][] {
  return GUEST_TARBALLS.flatMap(([key, variable]) => (settings[key] ? [[variable, resolve(settings[key])] as [string, string]] : []));
}
