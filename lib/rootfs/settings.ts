// The settings table of rootfs.ts: every option and environment variable,
// declared once (the ones every script shares come from
// lib/core/shared-settings.ts). Usage text, validation and the container's
// `--env` list (the `container` marks) are generated from it.
import { integer, oneOf, plainName, text, truthy, yesNo, type Parser, type SettingSpec, type Settings } from '../core/cli.ts';
import { archSetting, containerScriptSettings, sourceDateEpochSetting } from '../core/shared-settings.ts';
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
  agentVersion: { env: 'AGENT_VERSION', container: 'always', flag: 'a', arg: 'VERSION', default: '', parse: text, help: 'git ref of the agent source to check out before building it' },
  osbuilderVersion: { env: 'OSBUILDER_VERSION', container: 'always', flag: 'o', arg: 'VERSION', default: 'unknown', parse: text, help: 'osbuilder version recorded in the summary file' },
  rootfsDir: { env: 'ROOTFS_DIR', flag: 'r', arg: 'DIR', default: '', parse: nonEmpty, help: 'rootfs directory (default: <script dir>/rootfs-<distro>)' },
  agentBin: { env: 'AGENT_BIN', container: 'always', default: 'kata-agent', parse: plainName('the agent binary in usr/bin'), help: 'name of the agent binary in usr/bin (a file name, no path)' },
  agentInit: { env: 'AGENT_INIT', container: 'always', default: 'no' as 'yes' | 'no', parse: yesNo, help: 'yes: the agent is the init process (sbin/init) instead of systemd' },
  agentSourceBin: { env: 'AGENT_SOURCE_BIN', default: '', parse: text, help: 'prebuilt agent binary to copy in (not with AGENT_TARBALL)' },
  agentTarball: { env: 'AGENT_TARBALL', default: '', parse: text, help: 'agent .tar.zst unpacked at the rootfs root (not with AGENT_SOURCE_BIN)' },
  agentPolicy: { env: 'AGENT_POLICY', container: 'always', default: 'no' as 'yes' | 'no', parse: yesNo, help: 'yes: install AGENT_POLICY_FILE as the default agent policy (etc/kata-opa/default-policy.rego) and build the agent with AGENT_POLICY=yes' },
  agentPolicyFile: { env: 'AGENT_POLICY_FILE', default: '', parse: text, help: 'policy rego file for AGENT_POLICY=yes (default: <AGENT_SOURCE_DIR>/../kata-opa/allow-all.rego, the allow-all policy of the Kata tree)' },
  agentSourceDir: { env: 'AGENT_SOURCE_DIR', default: '', parse: text, help: 'agent source tree built with make when no prebuilt agent is given (default: <script dir>/../../src/agent)' },
  versionsFile: { env: 'KATA_VERSIONS_FILE', default: '', parse: text, help: "Kata's versions.yaml (default: <script dir>/../../versions.yaml)" },
  libc: { env: 'LIBC', container: 'always', default: '', parse: oneOf('musl', 'gnu'), help: 'libc the agent is built against: musl, or gnu (forced on ppc64le/s390x)' },
  seccomp: { env: 'SECCOMP', container: 'always', default: 'yes' as 'yes' | 'no', parse: yesNo, help: 'yes (default, as upstream): build the agent with seccomp and add libseccomp to the rootfs; no: neither' },
  kernelModulesDir: { env: 'KERNEL_MODULES_DIR', container: 'always', default: '', parse: text, help: 'kernel modules directory copied into lib/modules (must exist)' },
  extraPkgs: { env: 'EXTRA_PKGS', container: 'always', default: '', parse: text, help: 'extra packages to install, space separated' },
  osVersion: { env: 'OS_VERSION', container: 'always', default: '', parse: plainName('a distro release'), help: 'distro release, e.g. trixie or 42 (default: per distro, see -t)' },
  buildVariant: { env: 'BUILD_VARIANT', default: '', parse: plainName('an image variant'), help: "image variant kata-deploy passes (base, confidential...; the rootfs does not depend on it); the NVIDIA variants (nvidia*) are refused: their builder is not supported" },
  repoUrl: { env: 'REPO_URL', container: 'always', default: '', parse: text, help: "package repository URL for any distro (dnf baseurl, debootstrap/mmdebstrap mirror)" },
  repoUrlX86_64: { env: 'REPO_URL_X86_64', container: 'always', default: '', parse: text, help: 'REPO_URL of x86_64 builds of distros with a separate x86_64 mirror (ubuntu: archive vs ports)' },
  distroRepo: { env: 'DISTRO_REPO', default: false, parse: truthy, help: "use the host's package repositories (dnf --releasever)" },
  dnfConf: { env: 'DNF_CONF', default: '', parse: text, help: 'dnf config file for dnf-based distros, used as it is instead of the generated one (its repositories replace REPO_URL and DISTRO_REPO)' },
  aptKeyring: { env: 'APT_KEYRING', default: '', parse: text, help: 'keyring file (binary .gpg) that signs the mirror of Debian-family distros, given to mmdebstrap/debootstrap --keyring instead of the default keyrings (e.g. a private mirror\'s key; the host\'s apt is never changed)' },
  pkgManager: { env: 'PKG_MANAGER', default: '', parse: text, help: 'package manager command for dnf-based distros (default: dnf, else yum)' },
  gracefulExit: { env: 'GRACEFUL_EXIT', default: false, parse: truthy, help: 'exit 0 and touch <parent of ROOTFS_DIR>/<distro>_fail when a distro with BUILD_CAN_FAIL fails' },
  buildInRam: { env: 'BUILD_IN_RAM', default: 'auto' as BuildInRam, parse: oneOf<BuildInRam>('auto', 'yes', 'no'), help: 'build in /dev/shm, then copy the finished tree to ROOTFS_DIR (auto: when it is a tmpfs without nodev/noexec and with 2 GiB free)' },
  packageCacheDir: { env: 'PACKAGE_CACHE_DIR', default: '', parse: text, help: 'keep downloaded packages here for the next build (default: ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts/packages; no: download every time)' },
  distroCacheDir: { env: 'DISTRO_CACHE_DIR', default: '', parse: text, help: 'keep the tree of the distro stage here, so that a build whose distro inputs are unchanged only redoes the setup (default: ${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts/distro-trees; no: never)' },
  distroCacheEntries: { env: 'DISTRO_CACHE_ENTRIES', default: 3, parse: integer(1), help: 'distro trees DISTRO_CACHE_DIR keeps; the least recently used go first' },
  confidentialGuest: { env: 'CONFIDENTIAL_GUEST', container: 'always', default: 'no' as 'yes' | 'no', parse: yesNo, help: 'yes: /run is a tmpfs of 50 % (etc/fstab) and kata-containers.target requires systemd-remount-fs.service' },
  cocoGuestComponentsTarball: { env: 'COCO_GUEST_COMPONENTS_TARBALL', default: '', parse: text, help: 'Confidential Containers guest-components .tar.zst/.tar.gz/.tar unpacked at the rootfs root (implies CONFIDENTIAL_GUEST=yes)' },
  pauseImageTarball: { env: 'PAUSE_IMAGE_TARBALL', default: '', parse: text, help: 'pause image .tar.zst/.tar.gz/.tar unpacked at the rootfs root' },
  guestHooksTarball: { env: 'GUEST_HOOKS_TARBALL', default: '', parse: text, help: 'guest hooks .tar.zst/.tar.gz/.tar unpacked at the rootfs root' },
  rootfsOnly: { env: 'ROOTFS_ONLY', container: 'always', default: 'no' as 'yes' | 'no', parse: yesNo, help: 'yes: build the distro tree alone (no agent, no Kata setup, no summary), e.g. for a guest extension image' },
  insideContainer: { env: 'INSIDE_CONTAINER', default: false, parse: truthy, help: 'set by the container stage: running inside the build container' },
  distroStageKey: { env: 'DISTRO_STAGE_KEY', default: '', parse: text, help: "set by a non-root caller's container stage: the key of the distro tree to take from, or keep in, the DISTRO_CACHE_DIR mounted there" },
  distroLayerKey: { env: 'DISTRO_LAYER_KEY', default: '', parse: text, help: "set by a non-root caller's container stage: the key of the AGENT_INIT=yes tree an AGENT_INIT=no tree is built over, to take from, or keep in, the DISTRO_CACHE_DIR mounted there" },
  stagePrepareRootfs: { env: 'STAGE_PREPARE_ROOTFS', default: false, parse: truthy, help: 'run only the distro stage (no agent setup)' },
  ...containerScriptSettings,
  arch: { ...archSetting, help: `${archSetting.help}; another than the host's runs through qemu-user (see Foreign architectures)` },
  sourceDateEpoch: { ...sourceDateEpochSetting, help: 'fixed creation time (seconds since 1970) for a reproducible summary file and SBOM' },
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
