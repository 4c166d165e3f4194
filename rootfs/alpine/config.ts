// Alpine: apk.static --root --initdb (lib/rootfs/apk.ts), the agent as init.
import { type DistroConfig, buildAlpineRootfs, ifYes } from '../../lib.ts';

const alpine: DistroConfig = {
  name: 'alpine',
  osVersion: '3.22',
  packages: ({ seccomp }) => ['alpine-base', 'bash', 'iptables', 'ip6tables', ...ifYes(seccomp === 'yes', 'libseccomp')],
  initProcess: 'kata-agent',
  archExcludeList: [],
  // chrony only with EXTRA_PKGS=chrony; OpenRC starts it, there is no unit to edit.
  chrony: { conf: 'etc/chrony/chrony.conf', unit: 'etc/init.d/chronyd' },
  buildRootfs: buildAlpineRootfs,
};

export default alpine;
