// CONFIDENTIAL_GUEST=yes (also implied by a guest-components tarball): /run
// becomes a tmpfs of half the guest's memory (systemd's default 10 % is too
// small even for small images), remounted early by systemd-remount-fs.
import { join } from 'node:path';
import type { GuestTree } from '../core/guest-tree.ts';
import { die, info } from '../core/log.ts';
import { fx } from '../core/effects.ts';
import type { RootfsSettings } from './settings.ts';

export const RUN_TMPFS_LINE = 'tmpfs /run tmpfs nodev,nosuid,size=50% 0 0';
export const REMOUNT_REQUIRES = 'Requires=systemd-remount-fs.service';

export function isConfidentialGuest(settings: RootfsSettings): boolean {
  return settings.confidentialGuest === 'yes' || !!settings.cocoGuestComponentsTarball;
}

/** etc/fstab with every /run line replaced by the tmpfs line. */
export function fstabWithRunTmpfs(fstab: string): string {
  const lines = fstab.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return [...lines.filter((line) => !line.includes('/run')), RUN_TMPFS_LINE, ''].join('\n');
}

/** kata-containers.target with the remount requirement added (once). */
export function targetWithRemount(unit: string): string {
  if (/^Requires=.*systemd-remount-fs\.service/m.test(unit)) return unit;
  return `${unit.replace(/\n*$/, '\n')}${REMOUNT_REQUIRES}\n`;
}

/** After the agent's units are in place; systemd guests only, as upstream. */
export function applyConfidentialTweaks(tree: GuestTree, settings: RootfsSettings, targetRel: string): void {
  if (!isConfidentialGuest(settings)) return;
  if (settings.confidentialGuest !== 'yes') info('COCO_GUEST_COMPONENTS_TARBALL is set: building a confidential guest (CONFIDENTIAL_GUEST=yes)');
  if (settings.agentInit === 'yes') {
    info('CONFIDENTIAL_GUEST: the agent is init (no systemd), so /run and kata-containers.target are left as they are');
    return;
  }
  info('Tweaking /run to use 50% of the available memory');
  if (fx.planning) {
    // fstab comes from the distro's packages, the target from the agent: a plan can only name them.
    fx.note(`# edit ${join(tree.root, 'etc/fstab')}`);
    fx.note(`# edit ${join(tree.root, targetRel)}`);
    return;
  }
  tree.write('etc/fstab', fstabWithRunTmpfs(tree.read('etc/fstab') ?? ''));
  const target = tree.read(targetRel);
  if (target === undefined) die(`/${targetRel} is not a file in ${tree.root}: CONFIDENTIAL_GUEST=yes needs the agent's target unit (check the agent source)`);
  tree.write(targetRel, targetWithRemount(target));
  info(`${join('/', targetRel)} requires systemd-remount-fs.service`);
}
