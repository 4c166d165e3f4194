// initrd.ts — pack a Kata rootfs as an initrd (upstream initrd-builder/initrd_builder.sh).
// Usage: tsx initrd.ts [options] <rootfs-dir | DISTRO>   (see -h)
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import minimist from 'minimist';
import {
  type SettingSpec, describeSettings, integer, isMain, oneOf, rejectUnknownOptions, resolveSettings, runMain,
  text, valueFlags, yesNo, truthy,
} from './lib/core/cli.ts';
import { packEngine } from './lib/container/engine.ts';
import { $ } from './lib/core/exec.ts';
import { isExecutableFile, isSymlink } from './lib/core/fs-checks.ts';
import { checkOutputFile, checkRootfsToPack } from './lib/core/input-checks.ts';
import { COMPRESSIONS, hostCompressor } from './lib/initrd/compress.ts';
import { planArchive, scanTree } from './lib/initrd/tree.ts';
import { writeInitrd } from './lib/initrd/write.ts';
import { stageOutputSbom } from './lib/sbom/output.ts';
import { die, info, ok, step } from './lib/core/log.ts';

const scriptDir = dirname(new URL(import.meta.url).pathname);

export const initrdSettings = {
  help: { flag: 'h', default: false, parse: truthy, help: 'show this help' } as SettingSpec<boolean>,
  image: {
    flag: 'o', env: 'INITRD_IMAGE', default: 'kata-containers-initrd.img', parse: text,
    help: 'path of the initrd to write',
  } as SettingSpec<string>,
  agentBin: { env: 'AGENT_BIN', default: 'kata-agent', parse: text, help: 'name of the agent binary in usr/bin' } as SettingSpec<string>,
  agentInit: { env: 'AGENT_INIT', default: 'no', parse: yesNo, help: 'the agent is the init process (yes|no)' } as SettingSpec<'yes' | 'no'>,
  compression: {
    env: 'INITRD_COMPRESSION', default: 'gzip', parse: oneOf(...COMPRESSIONS),
    help: `compression: ${COMPRESSIONS.join(', ')} (gzip uses pigz on all cores when installed)`,
  } as SettingSpec<'gzip' | 'zstd' | 'none'>,
  sourceDateEpoch: {
    env: 'SOURCE_DATE_EPOCH', default: undefined, parse: integer(0),
    help: 'clamp archived mtimes to this time: same tree, same bytes',
  } as SettingSpec<number | undefined>,
};

export type InitrdSettings = ReturnType<typeof resolveSettings<typeof initrdSettings>>;

export const USAGE = `
Usage: initrd.ts [options] <rootfs-dir | DISTRO>

Create a Kata Containers initrd image from <rootfs-dir>. A DISTRO name uses
./DISTRO_rootfs (built with rootfs.ts when missing) and writes
kata-containers-initrd-DISTRO.img unless -o or INITRD_IMAGE is given.
/init -> /sbin/init is added to the archive (the directory is not changed).

Options and environment variables:
${describeSettings(initrdSettings)}
`;

/** Is `name` a distro of rootfs/ rather than a directory? */
function isDistroName(name: string): boolean {
  return /^[a-z][a-z0-9-]*$/.test(name) && existsSync(join(scriptDir, 'rootfs', name, 'config.ts'));
}

/** The rootfs checks of upstream initrd_builder.sh (the paths are checked by main), before anything is written. */
export function checkRootfs(rootfs: string, s: Pick<InitrdSettings, 'agentBin' | 'agentInit'>): void {
  const init = join(rootfs, 'sbin/init');
  if (!isExecutableFile(init) && !isSymlink(init)) die(`/sbin/init is not installed in ${rootfs}`);
  ok('init is installed');
  if (s.agentInit !== 'yes' && !isExecutableFile(join(rootfs, 'usr/bin', s.agentBin))) {
    die(`/usr/bin/${s.agentBin} is not installed in ${rootfs}: use the AGENT_BIN variable to change the expected agent binary name`);
  }
  ok('Agent is installed');
}

/** Resolve the positional argument: a directory, or a distro name (built when missing). */
async function rootfsFor(arg: string, env: NodeJS.ProcessEnv): Promise<{ rootfs: string; defaultImage?: string }> {
  if (existsSync(arg) || !isDistroName(arg)) return { rootfs: resolve(arg) };
  const rootfs = resolve(`${arg}_rootfs`);
  if (!existsSync(rootfs)) {
    await step(`Building rootfs for ${arg} in ${rootfs}`, async () => {
      const osbuilderVersion = env.OSBUILDER_VERSION || 'osbuilder-ts';
      await $({ verbose: true })`${join(scriptDir, 'node_modules/.bin/tsx')} ${join(scriptDir, 'rootfs.ts')} -o ${osbuilderVersion} -r ${rootfs} ${arg}`;
    });
  }
  return { rootfs, defaultImage: `kata-containers-initrd-${arg}.img` };
}

export async function buildInitrd(rootfs: string, image: string, s: InitrdSettings): Promise<void> {
  checkRootfs(rootfs, s);
  const out = resolve(image);
  info(`Creating ${out} based on rootfs at ${rootfs}`);
  const compressor = await hostCompressor(s.compression);
  await step(`Packing ${basename(out)} (newc cpio, ${compressor?.[0] ?? 'uncompressed'})`, async () => {
    const entries = planArchive(await scanTree(rootfs), { sourceDateEpoch: s.sourceDateEpoch, initTarget: '/sbin/init' });
    await writeInitrd(entries, out, compressor, async (tmp) => {
      const sbom = await stageOutputSbom(rootfs, {
        output: out, file: tmp, kind: 'initrd', settings: { compression: s.compression },
        ...(s.sourceDateEpoch !== undefined ? { epoch: s.sourceDateEpoch } : {}),
      });
      return sbom.commit;
    });
  });
}

export async function main(): Promise<void> {
  const opts = minimist(process.argv.slice(2), { string: valueFlags(initrdSettings), boolean: ['h'] });
  rejectUnknownOptions(opts, ['h', 'o']);
  const s = resolveSettings(initrdSettings, process.env, opts);
  if (s.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (opts._.length !== 1) die(`give one rootfs directory or distro name (got ${opts._.length}): see -h`);
  const { rootfs, defaultImage } = await rootfsFor(String(opts._[0]), process.env);
  const image = opts.o === undefined && !process.env.INITRD_IMAGE && defaultImage ? defaultImage : s.image;
  // Before either path: an engine would create a missing bind-mount source.
  checkRootfsToPack(rootfs);
  checkOutputFile(resolve(image), rootfs);
  const engine = packEngine(process.env);
  if (engine) {
    // Loaded only here: the container code is not needed on the host path.
    const { packInContainer, packSettingsFromEnv, settingsEnv } = await import('./lib/container/pack.ts');
    await packInContainer({
      tool: 'initrd', engine, rootfs, output: resolve(image), settings: packSettingsFromEnv(process.env),
      env: settingsEnv(initrdSettings, s, ['help', 'image']),
    });
    return;
  }
  await buildInitrd(rootfs, image, s);
}

if (isMain(import.meta.url)) await runMain(main);
