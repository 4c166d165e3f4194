// Ubuntu: bootstrapped like Debian, with mmdebstrap (default when installed)
// or debootstrap. Without REPO_URL the tool's own default mirror for the
// suite is used; REPO_URL_X86_64 is x86_64's (archive, not ports) mirror.
import type { DistroConfig } from '../../lib/rootfs/types.ts';
import { DEBIAN_FAMILY, ifYes } from '../../lib/rootfs/distro-packages.ts';

const ubuntu: DistroConfig = {
  ...DEBIAN_FAMILY,
  name: 'ubuntu',
  osVersion: 'noble',
  separateX86_64Mirror: true,
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
};

export default ubuntu;
