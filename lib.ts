// The distro authors' library (upstream scripts/lib.sh): everything a
// rootfs/<distro>/config.ts imports comes from here — the DistroConfig type and
// the context a builder gets, the builders (buildDnfRootfs is the default
// buildRootfs; the Debian-family, Alpine and devkit ones), the shared package
// lists and chrony paths, generateDockerfile (writes <dir>/Dockerfile from
// the distro's Dockerfile.in), logging, the command runner ($) and the disk
// effects (fx: a custom builder's writes go through it, so a plan prints them).
// README "Adding a distro" shows a config built from it.
export { die, info, ok, step, warn } from './lib/core/log.ts';
export { $, haveCommand } from './lib/core/exec.ts';
export { fx } from './lib/core/effects.ts';
export { generateDockerfile } from './lib/container/dockerfile.ts';
export { buildDnfRootfs } from './lib/rootfs/dnf.ts';
export { buildDebianRootfs, debootstrapSettings } from './lib/rootfs/debootstrap.ts';
export { buildAlpineRootfs } from './lib/rootfs/apk.ts';
export { buildDevkitRootfs, devkitStageInputs } from './lib/rootfs/devkit.ts';
export { DEBIAN_FAMILY, ifYes, ubuntuPackages } from './lib/rootfs/distro-packages.ts';
export { RED_HAT_CHRONY } from './lib/rootfs/chrony.ts';
export type { DistroConfig, PackageInputs, RootfsContext } from './lib/rootfs/types.ts';
