// The systemd units and generators Kata guests do not need, deleted by
// `rootfs.ts -d` (upstream main prunes in rootfs.sh only, since a49d0fb343),
// and the empty etc/machine-id image.ts adds when the tree has none.

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

export const MACHINE_ID = 'etc/machine-id';
