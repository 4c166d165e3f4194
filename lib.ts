// The shared library of the builders (upstream scripts/lib.sh): one import
// for logging, the command runner, the default dnf builder, the Dockerfile
// generator, the summary file and versions.yaml.
export { BuildError, die, error, info, ok, step, warn } from './lib/log.ts';
export { $, haveCommand } from './lib/exec.ts';
export { buildDnfRootfs, dnfConfigText, dnfInstallArgs } from './lib/dnf.ts';
export { buildDebianRootfs } from './lib/debootstrap.ts';
export { createSummaryFile, summaryYaml } from './lib/summary.ts';
export { packageVersion, rustVersion, muslVersion } from './lib/versions.ts';
export { listDistros, loadDistro, type DistroConfig } from './lib/distro.ts';
export type { RootfsContext } from './lib/context.ts';
