// CBL-Mariner / Azure Linux: tdnf (dnf when tdnf is missing) --installroot,
// lib's default builder. Its repository is REPO_URL (a baseurl) or, without
// one, the host's own repositories — as in the Azure Linux build container.
import { type DistroConfig, RED_HAT_CHRONY, ifYes } from '../../lib.ts';

const mariner: DistroConfig = {
  name: 'cbl-mariner',
  osVersion: '3.0',
  // The agent links against the distro's glibc.
  libc: 'gnu',
  packages: ({ agentInit, seccomp }) => ['kata-packages-uvm', 'e2fsprogs', ...ifYes(agentInit === 'no', 'systemd'), ...ifYes(seccomp === 'yes', 'libseccomp')],
  initProcess: 'systemd',
  archExcludeList: [],
  chrony: RED_HAT_CHRONY,
  dnf: { packageManagers: ['tdnf', 'dnf'] },
};

export default mariner;
