// CentOS Stream: dnf --installroot (lib's default builder). Its repository is
// REPO_URL (a baseurl) or, without one, the host's own repositories — as in
// the CentOS build container (USE_DOCKER/USE_PODMAN) or on a CentOS host.
// Stream uses one repository layout for every architecture, so the per-arch
// mirror overrides of CentOS 7 have no successor here.
import { type DistroConfig, RED_HAT_CHRONY, ifYes } from '../../lib.ts';

const centos: DistroConfig = {
  name: 'centos',
  osVersion: 'stream9',
  packages: ({ agentInit, seccomp }) => ['chrony', 'iptables', ...ifYes(agentInit === 'no', 'systemd'), ...ifYes(seccomp === 'yes', 'libseccomp')],
  initProcess: 'systemd',
  archExcludeList: [],
  chrony: RED_HAT_CHRONY,
  // The container tag "stream9" is release 9 to dnf.
  dnf: { releasever: (v) => v.replace(/^stream/, '') },
};

export default centos;
