// chrony in the guest: sync from the host's PTP clock only (setupRootfs step 4).
import { join } from 'node:path';
import type { GuestTree } from '../core/guest-tree.ts';
import { info, warn } from '../core/log.ts';
import { fx } from '../core/effects.ts';

export const CHRONY_APPEND = `refclock PHC /dev/ptp0 poll 3 dpoll -2 offset 0
# Step the system clock instead of slewing it if the adjustment is larger than
# one second, at any time
makestep 1 -1
`;

/** chrony's config and unit on Fedora, CentOS and Azure Linux (and of a tree built without a distro config). */
export const RED_HAT_CHRONY = { conf: 'etc/chrony.conf', unit: 'usr/lib/systemd/system/chronyd.service' };

/** Append the PTP refclock and comment out every network time source. */
export function editChronyConf(text: string): string {
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return (base + CHRONY_APPEND).replace(/^(server |pool |peer )/gm, '# $1');
}

/**
 * The chrony unit: no `-u user` (the user may not exist in the guest), only
 * when the PTP device exists, and no directories it would fail to create.
 */
export function editChronyUnit(text: string): string {
  return text
    .replace(/^(ExecStart=.*?)-u [\w-]+/gm, '$1')
    .replace(/^\[Unit\]$/m, '[Unit]\nConditionPathExists=/dev/ptp0')
    .replace(/^ReadWritePaths=(.+) \/var\/lib\/chrony (.+)$/m, 'ReadWritePaths=$1 -/var/lib/chrony $2')
    .replace(/^(StateDirectory=|LogsDirectory=)/gm, '#$1');
}

/** The edited file replaces /rel (its mode and owner kept). */
function editFile(tree: GuestTree, rel: string, text: string, edit: (s: string) => string): void {
  tree.write(rel, edit(text));
}

export function configureChrony(tree: GuestTree, paths: { conf: string; unit: string }): void {
  if (fx.planning) {
    // The files come from the distro's packages: a plan can only name them.
    fx.note(`# edit ${join(tree.root, paths.conf)}`);
    fx.note(`# edit ${join(tree.root, paths.unit)}`);
    return;
  }
  const conf = tree.read(paths.conf);
  if (conf === undefined) {
    warn(`${paths.conf} not found in the rootfs: chrony not configured`);
    return;
  }
  info(`Configure chrony file /${paths.conf}`);
  editFile(tree, paths.conf, conf, editChronyConf);
  const unit = tree.read(paths.unit);
  if (unit !== undefined) editFile(tree, paths.unit, unit, editChronyUnit);
}
