// Debian: bootstrapped with mmdebstrap (default when installed) or
// debootstrap (DEBIAN_BOOTSTRAP=debootstrap), minbase variant.
import type { DistroConfig } from '../../lib/rootfs/types.ts';
import { DEBIAN_FAMILY, ifYes } from '../../lib/rootfs/distro-packages.ts';

const debian: DistroConfig = {
  ...DEBIAN_FAMILY,
  name: 'debian',
  osVersion: 'bookworm',
  packages: ({ seccomp }) => ['systemd', 'iptables', 'init', 'chrony', 'kmod', ...ifYes(seccomp === 'yes', 'libseccomp2')],
};

export default debian;
