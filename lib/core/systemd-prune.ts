// What goes into the image differently from the rootfs directory (SPEC §4):
// systemd units and generators Kata guests do not need are left out, and an
// empty etc/machine-id is added when the tree has none.

/** Units whose `.service` and `.socket` files are left out. */
export const PRUNED_SYSTEMD_UNITS = [
  'systemd-coredump@',
  'systemd-journald',
  'systemd-journald-dev-log',
  // Not in upstream's list: with journald gone its socket fails at every
  // boot (a red "FAILED ... Journal Audit Socket").
  'systemd-journald-audit',
  'systemd-journal-flush',
  'systemd-random-seed',
  'systemd-timesyncd',
  'systemd-tmpfiles-setup',
  'systemd-udevd',
  'systemd-udevd-control',
  'systemd-udevd-kernel',
  'systemd-udev-trigger',
  'systemd-update-utmp',
];

/** Other files left out. */
export const PRUNED_SYSTEMD_FILES = [
  'systemd-bless-boot-generator',
  'systemd-fstab-generator',
  'systemd-getty-generator',
  'systemd-gpt-auto-generator',
  'systemd-tmpfiles-cleanup.timer',
];

const prunedNames = new Set([
  ...PRUNED_SYSTEMD_UNITS.flatMap((u) => [`${u}.service`, `${u}.socket`]),
  ...PRUNED_SYSTEMD_FILES,
]);

/** True for a regular file (anywhere in the tree) that the image leaves out. */
export function isPrunedFile(name: string, isRegularFile: boolean): boolean {
  return isRegularFile && prunedNames.has(name);
}

export const MACHINE_ID = 'etc/machine-id';
