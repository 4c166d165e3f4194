// image.ts — pack a Kata rootfs as a bootable disk image (upstream
// image-builder/image_builder.sh), without root, loop devices or mounts.
// Usage: tsx image.ts [options] <rootfs-dir | DISTRO>   (see -h)
import { resolve } from 'node:path';
import { parseCommandLine } from './lib/core/args.ts';
import { rootfsForArg } from './lib/rootfs/distro-arg.ts';
import {
  type SettingSpec, describeSettings, integer, isMain, oneOf, resolveSettings, runMain,
  configureOutput, containerEnv, text, truthy, yesNo,
} from './lib/core/cli.ts';
import { engineFor } from './lib/core/engine-choice.ts';
import { containerScriptSettings, sourceDateEpochSetting } from './lib/core/shared-settings.ts';
import { rerunRootless, rootlessAvailable, wantsRootless } from './lib/core/userns.ts';
import { buildImage, type ImageOptions } from './lib/image/build.ts';
import { FS_TYPES, type FsType } from './lib/image/fs.ts';
import { checkOutputFile, checkOutputName, checkRootfsToPack, fileNamePart } from './lib/core/input-checks.ts';
import { die, info } from './lib/core/log.ts';


const MAX_FREE_SPACE_MB = 1 << 20; // 1 TiB

const wholeMb: SettingSpec<number>['parse'] = (raw, name) => {
  if (!/^\d+$/.test(raw)) die(`${name}=${raw} is not valid: give the free space in MB as a whole number, e.g. -r 128`);
  if (Number(raw) > MAX_FREE_SPACE_MB) die(`${name}=${raw} is out of range: give at most ${MAX_FREE_SPACE_MB} MB`);
  return Number(raw);
};

export const imageSettings = {
  help: { flag: 'h', default: false, parse: truthy, help: 'show this help' } as SettingSpec<boolean>,
  image: { flag: 'o', arg: 'IMAGE', env: 'IMAGE', default: 'kata-containers.img', parse: text, help: 'path of the image to write' } as SettingSpec<string>,
  rootFreeSpaceMb: { flag: 'r', arg: 'MB', env: 'ROOT_FREE_SPACE', container: 'set', default: 0, parse: wholeMb, help: 'free space of the root partition in MB' } as SettingSpec<number>,
  fsType: { flag: 'f', arg: 'FS_TYPE', env: 'FS_TYPE', container: 'set', default: 'ext4', parse: oneOf(...FS_TYPES), help: `filesystem: ${FS_TYPES.join(', ')}` } as SettingSpec<FsType>,
  agentInit: { env: 'AGENT_INIT', container: 'set', default: 'no', parse: yesNo, help: 'the agent is the init process (yes|no)' } as SettingSpec<'yes' | 'no'>,
  blockSize: {
    env: 'BLOCK_SIZE', container: 'set', default: 4096, parse: (raw, name) => Number(oneOf('1024', '2048', '4096')(raw, name)),
    help: 'filesystem block size in bytes (1024, 2048 or 4096; erofs: 4096)',
  } as SettingSpec<number>,
  nsdaxBin: { env: 'NSDAX_BIN', default: '', parse: text, help: 'prebuilt nsdax tool to write the DAX metadata (default: written by image.ts)' } as SettingSpec<string>,
  skipDaxHeader: { env: 'SKIP_DAX_HEADER', container: 'set', default: 'no', parse: yesNo, help: 'yes: no DAX/NVDIMM header, one MBR, partition at 1 MiB' } as SettingSpec<'yes' | 'no'>,
  measured: { env: 'MEASURED_ROOTFS', container: 'set', default: 'no', parse: yesNo, help: 'yes: add a dm-verity hash partition and root_hash_<variant>.txt' } as SettingSpec<'yes' | 'no'>,
  alignmentMb: { env: 'IMAGE_SIZE_ALIGNMENT_MB', container: 'set', default: 128, parse: integer(1, 1 << 20), help: 'round the image size up to this many MiB' } as SettingSpec<number>,
  buildVariant: { env: 'BUILD_VARIANT', container: 'set', default: '', parse: fileNamePart, help: 'variant name in root_hash_<variant>.txt (letters, digits, . _ + -)' } as SettingSpec<string>,
  skipRootfsCheck: { env: 'SKIP_ROOTFS_CHECK', container: 'set', default: 'no', parse: yesNo, help: 'yes: skip the init/agent checks' } as SettingSpec<'yes' | 'no'>,
  sourceDateEpoch: { ...sourceDateEpochSetting, help: 'reproducible build: fixed ids, timestamps clamped to this time' },
  ...containerScriptSettings,
};

export type ImageSettings = ReturnType<typeof resolveSettings<typeof imageSettings>>;

export const USAGE = `
Usage: image.ts [options] <rootfs-dir | DISTRO>

Create a Kata Containers disk image of an adequate size from <rootfs-dir>.
A DISTRO name uses ./DISTRO_rootfs (built with rootfs.ts when missing) and
writes kata-containers-image-DISTRO.img unless -o or IMAGE is given.
No root, loop device or mount is needed; the rootfs directory is only read.

Options and environment variables:
${describeSettings(imageSettings)}

Layout (default, with the DAX header):
  0      MBR #1, partition 1 at 3 MiB    2 MiB  MBR #2, partition 1 at +1 MiB
  4 KiB  NVDIMM PFN info block           3 MiB  root filesystem ... to the last sector
MEASURED_ROOTFS=yes: the root partition ends at 99% of the image after the
header (whole MiB) and the dm-verity hash partition takes the rest.
Kernels with NVDIMM/DAX read MBR #2 (through the PFN block), others MBR #1.
`;

/** Checks on the paths, before anything is written (and before an engine would create a missing bind-mount source). */
export function checkPaths(rootfs: string, image: string): void {
  checkRootfsToPack(rootfs);
  checkOutputFile(image, rootfs);
}

export function imageOptions(s: ImageSettings, rootfs: string, image: string): ImageOptions {
  return {
    rootfs,
    image,
    fsType: s.fsType,
    blockSize: s.blockSize,
    rootFreeSpaceMb: s.rootFreeSpaceMb,
    agentInit: s.agentInit,
    daxHeader: s.skipDaxHeader !== 'yes',
    measured: s.measured === 'yes',
    alignmentMb: s.alignmentMb,
    ...(s.nsdaxBin ? { nsdaxBin: resolve(s.nsdaxBin) } : {}),
    buildVariant: s.buildVariant,
    ...(s.sourceDateEpoch !== undefined ? { epoch: s.sourceDateEpoch } : {}),
    skipRootfsCheck: s.skipRootfsCheck === 'yes',
  };
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const opts = parseCommandLine(imageSettings, argv, { min: 0, max: 1, what: 'one rootfs directory or distro name' });
  const s = resolveSettings(imageSettings, env, opts);
  configureOutput(s);
  if (s.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (opts._.length !== 1) die('give one rootfs directory or distro name: see -h');
  checkOutputName(s.image, opts.o === undefined ? 'IMAGE' : '-o');
  const { rootfs, distroOutput: distroImage } = await rootfsForArg(String(opts._[0]), 'image');
  const image = resolve(opts.o === undefined && !env.IMAGE && distroImage ? distroImage : s.image);
  checkPaths(rootfs, image);
  const engine = engineFor(s);
  // A non-root caller with a subordinate range reads the tree (0600 files, subordinate owners) as its build wrote it: as root of a user namespace.
  if (wantsRootless(engine) && rootlessAvailable()) await rerunRootless('image.ts');
  if (engine) {
    // Loaded only here: the container code is not needed on the host path.
    const { packInContainer } = await import('./lib/container/pack.ts');
    await packInContainer({
      tool: 'image', engine, rootfs, output: image, settings: s,
      env: containerEnv(imageSettings, s),
      extraFiles: s.nsdaxBin ? [resolve(s.nsdaxBin)] : [],
    });
    return;
  }
  info(`Creating ${image} from rootfs ${rootfs} (${s.fsType})`);
  await buildImage(imageOptions(s, rootfs, image));
}

if (isMain(import.meta.url)) {
  await runMain(main);
}
