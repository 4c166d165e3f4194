// Fedora: dnf --installroot (lib's default builder). Its repository is
// REPO_URL (a baseurl) or, without one, the host's own repositories — as in
// the Fedora build container (USE_DOCKER/USE_PODMAN) or on a Fedora host.
import type { DistroConfig } from '../../lib/rootfs/types.ts';

const fedora: DistroConfig = {
  name: 'fedora',
  osVersion: '42',
  packages: ({ agentInit, seccomp }) => [
    'iptables',
    'chrony',
    ...(agentInit === 'no' ? ['systemd'] : []),
    ...(seccomp === 'yes' ? ['libseccomp'] : []),
  ],
  initProcess: 'systemd',
  archExcludeList: [],
  chrony: { conf: 'etc/chrony.conf', unit: 'usr/lib/systemd/system/chronyd.service' },
};

export default fedora;
