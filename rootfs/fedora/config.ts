// Fedora: dnf --installroot (lib's default builder). Its repository is
// REPO_URL (a baseurl) or, without one, the host's own repositories — as in
// the Fedora build container (USE_DOCKER/USE_PODMAN) or on a Fedora host.
import { type DistroConfig, RED_HAT_CHRONY } from '../../lib.ts';

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
  chrony: RED_HAT_CHRONY,
};

export default fedora;
