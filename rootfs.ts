// rootfs.ts — build a Kata guest root filesystem (upstream rootfs-builder/rootfs.sh).
// Usage: tsx rootfs.ts [options] [DISTRO]   (see -h)
import type minimist from 'minimist';
import { parseCommandLine } from './lib/core/args.ts';
import { configureOutput, describeSettings, isMain, resolveSettings, runMain } from './lib/core/cli.ts';
import { targetArch } from './lib/rootfs/context.ts';
import { listDistros, loadDistro, testConfigText } from './lib/rootfs/distro.ts';
import { runRootfsBuild } from './lib/rootfs/build.ts';
import { rootfsSettings, type RootfsSettings } from './lib/rootfs/settings.ts';

// The upstream names of the two stages (rootfs.sh's build_rootfs_distro and
// setup_rootfs), and what the tests reach through this entry point.
export { buildDistro, buildRootfsDistro, contextFor, hostDistroId, scriptDir } from './lib/rootfs/build.ts';
export { setupRootfs } from './lib/rootfs/setup.ts';

export async function usage(): Promise<string> {
  const distros = listDistros();
  const distroSettings: Record<string, any> = {};
  for (const d of distros) Object.assign(distroSettings, (await loadDistro(d, targetArch({ arch: '' } as RootfsSettings))).settings ?? {});
  return `
Usage: rootfs.ts [options] [DISTRO]

Build and set up a rootfs directory based on DISTRO, used to create Kata
Containers images or initrds. Without DISTRO, an existing base rootfs at
ROOTFS_DIR is provisioned with the Kata specific components.

Supported DISTRO values: ${distros.join(' ')}
A new distro is a folder rootfs/<name>/ with a config.ts (its DistroConfig,
built from lib.ts, the distro authors' library) and a Dockerfile.in: see
README "Adding a distro".

Options and environment variables:
${describeSettings(rootfsSettings, distroSettings)}

Distro builder variables:
${describeSettings(distroSettings, rootfsSettings)}
`;
}

export function parseArgs(argv: string[]): minimist.ParsedArgs {
  return parseCommandLine(rootfsSettings, argv, { min: 0, max: 1, what: 'at most one DISTRO' });
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const opts = parseArgs(argv);
  const settings = resolveSettings(rootfsSettings, env, opts);
  configureOutput(settings);
  if (settings.help || argv.length === 0) {
    process.stdout.write(await usage());
    return;
  }
  if (settings.list) {
    process.stdout.write(`${listDistros().join('\n')}\n`);
    return;
  }
  if (settings.testConfig) {
    process.stdout.write(testConfigText(await loadDistro(settings.testConfig, targetArch(settings))));
    return;
  }
  await runRootfsBuild(settings, opts._[0] === undefined ? '' : String(opts._[0]), env);
}

if (isMain(import.meta.url)) await runMain(() => main());
