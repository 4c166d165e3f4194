// Small building blocks of the distro configs' package lists and paths.

/** `pkgs` when `cond` holds, else nothing: `[...ifYes(seccomp === 'yes', 'libseccomp')]`. */
export function ifYes(cond: boolean, ...pkgs: string[]): string[] {
  return cond ? pkgs : [];
}

/** chrony's config and unit on Fedora, CentOS and Azure Linux. */
export const RED_HAT_CHRONY = { conf: 'etc/chrony.conf', unit: 'usr/lib/systemd/system/chronyd.service' };
