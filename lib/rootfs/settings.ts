// The settings table of rootfs.ts: every option and environment variable,
// declared once. Usage text, validation and (later) the container `--env`
// list are generated from it.
import { integer, oneOf, sourceDateEpoch, plainName, text, truthy, yesNo, type Parser, type SettingSpec, type Settings } from '../core/cli.ts';
import { checkArch } from '../core/arch.ts';
import { die } from '../core/log.ts';
import type { BuildInRam } from './ram-staging.ts';

const nonEmpty: Parser<string> = (raw, name) =>
  raw === '' ? die(`${name} is empty: give a directory path`) : raw;

export const rootfsSettings = {
  help: { flag: 'h', default: false, parse: truthy, help: 'show this help and exit' },
  list: { flag: 'l', default: false, parse: truthy, help: 'list the supported distros and exit' },
  testConfig: { flag: 't', arg: 'DISTRO', default: '', parse: text, help: 'print the test configuration of DISTRO and exit' },
  deleteUnits: { flag: 'd', default: false, parse: truthy, help: 'delete unneeded systemd units and files' },
  forceRebuild: { env: 'FORCE_REBUILD', flag: 'f', default: false, parse: truthy, help: 'rebuild DISTRO even when its build manifest shows unchanged inputs' },
  plan: { env: 'PLAN', flag: 'dry-run', default: false, parse: truthy, help: 'plan mode: print every command (+ CMD) and disk write (# write PATH) the build would make, doing none of them' },
  agentVersion: { env: 'AGENT_VERSION', flag: 'a', arg: 'VERSION', default: '', parse: text, help: 'git ref of the agent source to check out before building it' },
  osbuilderVersion: { env: 'OSBUILDER_VERSION', flag: 'o', arg: 'VERSION', default: 'unknown', parse: text, help: 'osbuilder version recorded in the summary file' },
  rootfsDir: { env: 'ROOTFS_DIR', flag: 'r', arg: 'DIR', default: '', parse: nonEmpty, help: 'rootfs directory (default: <script dir>/rootfs-<distro>)' },
  agentBin: { env: 'AGENT_BIN', default: 'kata-agent', parse: plainName('the agent binary in usr/bin'), help: 'name of the agent binary in usr/bin (a file name, no path)' },
  agentInit: { env: 'AGENT_INIT', default: 'no' as 'yes' | 'no', parse: yesNo, help: 'yes: the agent is the init process (sbin/init) instead of systemd' },
  agentSourceBin: { env: 'AGENT_SOURCE_BIN', default: '', parse: text, help: 'prebuilt agent binary to copy in (not with AGENT_TARBALL)' },
  agentTarball: { env: 'AGENT_TARBALL', default: '', parse: text, help: 'agent .tar.zst unpacked at the rootfs root (not with AGENT_SOURCE_BIN)' },
  agentPolicy: { env: 'AGENT_POLICY', default: 'no' as 'yes' | 'no', parse: yesNo, help: 'yes: install AGENT_POLICY_FILE as the default agent policy (etc/kata-opa/default-policy.rego) and build the agent with AGENT_POLICY=yes' },
  agentPolicyFile: { env: 'AGENT_POLICY_FILE', default: '', parse: text, help: 'policy rego file for AGENT_POLICY=yes (default: <AGENT_SOURCE_DIR>/../kata-opa/allow-all.rego, the allow-all policy of the Kata tree)' },
  agentSourceDir: { env: 'AGENT_SOURCE_DIR', default: '', parse: text, help: 'agent source tree built with make when no prebuilt agent is given (default: <script dir>/../../src/agent)' },
  versionsFile: { env: 'KATA_VERSIONS_FILE', default: '', parse: text, help: "Kata's versions.yaml (default: <script dir>/../../versions.yaml)" },
  arch: { env: 'ARCH', default: '', parse: (raw, name) => checkArch(raw, name), help: 'target architecture as `uname -m` prints it: x86_64, aarch64, ppc64le or s390x (default: the host); another than the host\'s runs through qemu-user (see Foreign architectures)' },
  libc: { env: 'LIBC', default: '', parse: oneOf('musl', 'gnu'), help: 'libc the agent is built against: musl, or gnu (forced on ppc64le/s390x)' },
  seccomp: { env: 'SECCOMP', default: 'yes' as 'yes' | 'no', parse: yesNo, help: 'yes (default, as upstream): build the agent with seccomp and add libseccomp to the rootfs; no: neither' },
  kernelModulesDir: { env: 'KERNEL_MODULES_DIR', default: '', parse: text, help: 'kernel modules directory copied into lib/modules (must exist)' },
  extraPkgs: { env: 'EXTRA_PKGS', default: '', parse: text, help: 'extra packages to install, space separated' },
  osVersion: { env: 'OS_VERSION', default: '', parse: plainName('a distro release'), help: 'distro release, e.g. trixie or 42 (default: per distro, see -t)' },
  buildVariant: { env: 'BUILD_VARIANT', default: '', parse: plainName('an image variant'), help: "image variant kata-deploy passes (base, confidential...; the rootfs does not depend on it); the NVIDIA variants (nvidia*) are refused: their builder is not supported" },
  repoUrl: { env: 'REPO_URL', default: '', parse: text, help: "package repository URL for any distro (dnf baseurl, debootstrap/mmdebstrap mirror)" },
  repoUrlX86_64: { env: 'REPO_URL_X86_64', default: '', parse: text, help: 'REPO_URL of x86_64 builds of distros with a separate x86_64 mirror (ubuntu: archive vs ports)' },
  distroRepo: { env: 'DISTRO_REPO', default: false, parse: truthy, help: "use the host's package repositories (dnf --releasever)" },
  dnfConf: { env: 'DNF_CONF', default: '', parse: text, help: 'dnf config file for dnf-based distros, used as it is instead of the generated one (its repositories replace REPO_URL and DISTRO_REPO)' },
  aptKeyring: { env: 'APT_KEYRING', default: '', parse: text, help: 'keyring file (binary .gpg) that signs the mirror of Debian-family distros, given to mmdebstrap/debootstrap --keyring instead of the default keyrings (e.g. a private mirror\'s key; the host\'s apt is never changed)' },
  pkgManager: { env: 'PKG_MANAGER', default: '', parse: text, help: 'package manager command for dnf-based distros (default: dnf, else yum)' },
  gracefulExit: { env: 'GRACEFUL_EXIT', default: false, parse: truthy, help: 'exit 0 and touch <parent of ROOTFS_DIR>/<distro>_fail when a distro with BUILD_CAN_FAIL fails' },
  buildInRam: { env: 'BUILD_IN_RAM', default: 'auto' as BuildInRam, parse: oneOf<BuildInRam>('auto', 'yes', 'no'), help: 'build in /dev/shm, then copy the finished tree to ROOTFS_DIR (auto: when it is a tmpfs without nodev/noexec and with 2 GiB free)' },
  packageCacheDir: { env: 'PACKAGE_CACHE_DIR', default: '', parse: text, help: 'keep downloaded packages here for the next build (default: ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts/packages; no: download every time)' },
  distroCacheDir: { env: 'DISTRO_CACHE_DIR', default: '', parse: text, help: 'keep the tree of the distro stage here, so that a build whose distro inputs are unchanged only redoes the setup (default: ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts/distro-trees; no: never)' },
  distroCacheEntries: { env: 'DISTRO_CACHE_ENTRIES', default: 3, parse: integer(1), help: 'distro trees DISTRO_CACHE_DIR keeps; the least recently used go first' },
  useDocker: { env: 'USE_DOCKER', default: false, parse: truthy, help: 'build the distro stage in a Docker container' },
  usePodman: { env: 'USE_PODMAN', default: false, parse: truthy, help: 'build the distro stage in a Podman container (when USE_DOCKER is unset)' },
  dockerRuntime: { env: 'DOCKER_RUNTIME', default: 'runc', parse: text, help: 'container runtime for the build container' },
  imageRegistry: { env: 'IMAGE_REGISTRY', default: '', parse: text, help: "registry of the build container's base image (default: the Dockerfile.in default)" },
  confidentialGuest: { env: 'CONFIDENTIAL_GUEST', default: 'no' as 'yes' | 'no', parse: yesNo, help: 'yes: /run is a tmpfs of 50 % (etc/fstab) and kata-containers.target requires systemd-remount-fs.service' },
  cocoGuestComponentsTarball: { env: 'COCO_GUEST_COMPONENTS_TARBALL', default: '', parse: text, help: 'Confidential Containers guest-components .tar.zst/.tar.gz/.tar unpacked at the rootfs root (implies CONFIDENTIAL_GUEST=yes)' },
  pauseImageTarball: { env: 'PAUSE_IMAGE_TARBALL', default: '', parse: text, help: 'pause image .tar.zst/.tar.gz/.tar unpacked at the rootfs root' },
  guestHooksTarball: { env: 'GUEST_HOOKS_TARBALL', default: '', parse: text, help: 'guest hooks .tar.zst/.tar.gz/.tar unpacked at the rootfs root' },
  rootfsOnly: { env: 'ROOTFS_ONLY', default: 'no' as 'yes' | 'no', parse: yesNo, help: 'yes: build the distro tree alone (no agent, no Kata setup, no summary), e.g. for a guest extension image' },
  insideContainer: { env: 'INSIDE_CONTAINER', default: false, parse: truthy, help: 'set by the container stage: running inside the build container' },
  stagePrepareRootfs: { env: 'STAGE_PREPARE_ROOTFS', default: false, parse: truthy, help: 'run only the distro stage (no agent setup)' },
  sourceDateEpoch: { env: 'SOURCE_DATE_EPOCH', default: undefined as number | undefined, parse: sourceDateEpoch, help: 'fixed creation time (seconds since 1970) for a reproducible summary file' },
  httpProxy: { env: 'http_proxy', default: '', parse: text, help: 'HTTP proxy passed to the build' },
  httpsProxy: { env: 'https_proxy', default: '', parse: text, help: 'HTTPS proxy passed to the build' },
  noProxy: { env: 'no_proxy', default: '', parse: text, help: 'hosts reached without the proxy, passed to the build' },
  httpProxyUpper: { env: 'HTTP_PROXY', default: '', parse: text, help: 'upper-case form of http_proxy, passed to the build as well' },
  httpsProxyUpper: { env: 'HTTPS_PROXY', default: '', parse: text, help: 'upper-case form of https_proxy, passed to the build as well' },
  noProxyUpper: { env: 'NO_PROXY', default: '', parse: text, help: 'upper-case form of no_proxy, passed to the build as well' },
  debug: { env: 'DEBUG', default: false, parse: truthy, help: 'print every command run' },
} satisfies Record<string, SettingSpec<any>>;

export type RootfsSettings = Settings<typeof rootfsSettings>;

/**
 * Upstream builds BUILD_VARIANT=nvidia* with a builder of its own
 * (rootfs-builder/nvidia/): NVIDIA's package repositories and a driver built
 * for the guest kernel. That is not ported; a plain guest under that name would be wrong.
 */
export function checkBuildVariant(variant: string): void {
  if (variant.startsWith('nvidia')) {
    die(`BUILD_VARIANT=${variant} is not supported: the NVIDIA guests need upstream's NVIDIA builder (rootfs-builder/nvidia/: the GPU driver stack from NVIDIA's package repositories, a driver built for the guest kernel), which osbuilder-ts does not have; build them with upstream's osbuilder, or drop BUILD_VARIANT`);
  }
}
