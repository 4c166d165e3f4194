// The shared library of the builders (upstream scripts/lib.sh): one import
// for logging, the command runner, the default dnf builder, the Dockerfile
// generator, the summary file and versions.yaml.
export { BuildError, die, error, info, ok, step, warn } from './lib/core/log.ts';
export { $, haveCommand } from './lib/core/exec.ts';
export { buildDnfRootfs, dnfConfigText, dnfInstallArgs } from './lib/rootfs/dnf.ts';
export { buildDebianRootfs } from './lib/rootfs/debootstrap.ts';
export { createSummaryFile, summaryYaml } from './lib/rootfs/summary.ts';
export { packageVersion, rustVersion } from './lib/rootfs/versions.ts';
export { listDistros, loadDistro } from './lib/rootfs/distro.ts';
export type { DistroConfig, RootfsContext } from './lib/rootfs/types.ts';
