// Ubuntu: bootstrapped like Debian, with mmdebstrap (default when installed)
// or debootstrap. OS_VERSION has no default (as upstream): kata-deploy pins
// resolute. The mirror is REPO_URL_X86_64 (x86_64), else REPO_URL, else
// Ubuntu's archive on x86_64 and its ports archive elsewhere, as upstream
// passes them; an explicit mirror gives the release suite alone.
import { DEBIAN_FAMILY, type DistroConfig, ubuntuPackages } from '../../lib.ts';

const ubuntu: DistroConfig = {
  ...DEBIAN_FAMILY,
  name: 'ubuntu',
  osVersionExample: 'resolute',
  separateX86_64Mirror: true,
  repoUrl: 'http://ports.ubuntu.com/ubuntu-ports',
  archOverrides: { x86_64: { repoUrl: 'http://archive.ubuntu.com/ubuntu' } },
  packages: ubuntuPackages,
};

export default ubuntu;
