// devkit: the debug guest extension kata-deploy ships as
// kata-containers-devkit-extension.img (erofs, measured). An Ubuntu tree of
// debug tools bootstrapped with mmdebstrap (variant required) on Ubuntu's
// mirrors, as the ubuntu distro takes them; OS_VERSION is required (the guest
// image's release, so the glibc matches). Built with ROOTFS_ONLY=yes only:
// no agent, no init. lib/rootfs/devkit.ts adds the static busybox and the
// helper scripts of this folder.
import { type DistroConfig, buildDevkitRootfs, debootstrapSettings, devkitStageInputs } from '../../lib.ts';
import ubuntu from '../ubuntu/config.ts';

/** Prebaked so the extension is useful offline; anything else is an `apt-get install` away in the overlay. */
export const DEVKIT_PACKAGES = [
  'apt', // not Priority: required, so not in mmdebstrap's set
  'ca-certificates',
  'busybox-static', // the guest base has no shell: devkit-init starts from it
  'bash',
  'pciutils',
  'util-linux',
  'strace',
  'ltrace',
  'lsof',
  'psmisc',
  'procps',
  'tcpdump',
  'iproute2',
  'dnsutils',
  'netcat-openbsd',
  'curl',
  'wget',
  'file',
  'less',
];

const devkit: DistroConfig = {
  ...ubuntu,
  name: 'devkit',
  releaseOf: 'ubuntu',
  // The same archive, release suite only, as the guest image's build: its downloads serve both.
  packageCacheOf: 'ubuntu',
  extensionOnly: true,
  packages: () => DEVKIT_PACKAGES,
  // busybox-static and ltrace are in Ubuntu's universe.
  settings: { components: { ...debootstrapSettings.components, default: 'main,universe' } },
  stageInputs: devkitStageInputs,
  buildRootfs: buildDevkitRootfs,
  // One package list whatever AGENT_INIT says: no layer to share.
  buildRootfsOver: undefined,
};

export default devkit;
