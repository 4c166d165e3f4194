// Ubuntu: bootstrapped like Debian, with mmdebstrap (default when installed)
// or debootstrap. Without REPO_URL the tool's own default mirror for the
// suite is used.
import { buildDebianRootfs, debootstrapSettings } from '../../lib/debootstrap.ts';
import type { DistroConfig } from '../../lib/distro.ts';
import { ifYes } from '../../lib/distro-packages.ts';

const ubuntu: DistroConfig = {
  name: 'ubuntu',
  osVersion: 'noble',
  packages: ({ agentInit, seccomp, arch }) => [
    'chrony',
    'iptables',
    'dbus',
    ...ifYes(agentInit === 'no', 'init'),
    // Encrypted and ephemeral storage of the guest (mkfs.ext4, cryptsetup).
    'cryptsetup-bin',
    'e2fsprogs',
    ...ifYes(seccomp === 'yes', 'libseccomp2'),
    ...ifYes(arch === 's390x', 'libcurl4', 'libnghttp2-14'),
  ],
  initProcess: 'systemd',
  archExcludeList: [],
  chrony: { conf: 'etc/chrony/chrony.conf', unit: 'lib/systemd/system/chrony.service' },
  containerAppArmorUnconfined: true,
  settings: debootstrapSettings,
  buildRootfs: buildDebianRootfs,
};

export default ubuntu;
