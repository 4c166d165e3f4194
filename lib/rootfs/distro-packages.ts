// Small building blocks of the distro configs' package lists and paths.
import { buildDebianRootfs, buildDebianRootfsOver, debootstrapSettings } from './debootstrap.ts';
import type { DistroConfig, PackageInputs } from './types.ts';

/** `pkgs` when `cond` holds, else nothing: `[...ifYes(seccomp === 'yes', 'libseccomp')]`. */
export function ifYes(cond: boolean, ...pkgs: string[]): string[] {
  return cond ? pkgs : [];
}

/**
 * Upstream's Ubuntu package list, which upstream's Debian config takes too.
 * cryptsetup-bin (veritysetup, encrypted volumes) and e2fsprogs (mkfs.ext4
 * for ephemeral storage) are in every guest; init only when systemd is init.
 */
export function ubuntuPackages({ agentInit, seccomp, arch }: PackageInputs): string[] {
  return [
    'chrony',
    'iptables',
    'dbus',
    ...ifYes(agentInit === 'no', 'init'),
    'cryptsetup-bin',
    'e2fsprogs',
    ...ifYes(seccomp === 'yes', 'libseccomp2'),
    ...ifYes(arch === 's390x', 'libcurl4', 'libnghttp2-14'),
  ];
}

/** What Debian-family configs share: systemd, Debian's chrony paths, the mmdebstrap/debootstrap builder. */
export const DEBIAN_FAMILY = {
  initProcess: 'systemd',
  archExcludeList: [],
  chrony: { conf: 'etc/chrony/chrony.conf', unit: 'lib/systemd/system/chrony.service' },
  containerAppArmorUnconfined: true,
  settings: debootstrapSettings,
  buildRootfs: buildDebianRootfs,
  buildRootfsOver: buildDebianRootfsOver,
} satisfies Partial<DistroConfig>;
