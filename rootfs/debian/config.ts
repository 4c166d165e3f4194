// Debian: bootstrapped with mmdebstrap (default when installed) or
// debootstrap (DEBIAN_BOOTSTRAP=debootstrap). As upstream's Debian config,
// it takes Ubuntu's package list. Without REPO_URL, mmdebstrap picks Debian's
// own mirror (with the suite's updates and security archives).
import { DEBIAN_FAMILY, type DistroConfig, ubuntuPackages } from '../../lib.ts';

const debian: DistroConfig = {
  ...DEBIAN_FAMILY,
  name: 'debian',
  osVersion: 'bookworm',
  // kmod (modprobe) is Priority: required on Ubuntu, so in its base; Debian ranks it important.
  packages: (inputs) => [...ubuntuPackages(inputs), 'kmod'],
};

export default debian;
