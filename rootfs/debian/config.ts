// Debian: bootstrapped with mmdebstrap (default when installed) or
// debootstrap (DEBIAN_BOOTSTRAP=debootstrap), minbase variant.
import { buildDebianRootfs, debootstrapSettings } from '../../lib/debootstrap.ts';
import type { DistroConfig } from '../../lib/distro.ts';

const debian: DistroConfig = {
  name: 'debian',
  osVersion: 'bookworm',
  packages: ({ seccomp }) => ['systemd', 'iptables', 'init', 'chrony', 'kmod', ...(seccomp === 'yes' ? ['libseccomp2'] : [])],
  initProcess: 'systemd',
  archExcludeList: [],
  chrony: { conf: 'etc/chrony/chrony.conf', unit: 'lib/systemd/system/chrony.service' },
  containerAppArmorUnconfined: true,
  settings: debootstrapSettings,
  buildRootfs: buildDebianRootfs,
};

export default debian;
