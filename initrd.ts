// initrd.ts — pack a Kata rootfs as an initrd (upstream initrd-builder/initrd_builder.sh).
// Usage: tsx initrd.ts [options] <rootfs-dir | DISTRO>   (see -h)
import { existsSync, realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseCommandLine } from './lib/core/args.ts';
import { rootfsForArg } from './lib/rootfs/distro-arg.ts';
import {
  type SettingSpec, describeSettings, isMain, oneOf, plainName, resolveSettings, runMain,
  configureOutput, containerEnv, text, truthy, yesNo,
} from './lib/core/cli.ts';
import { engineFor } from './lib/core/engine-choice.ts';
import { containerScriptSettings, sourceDateEpochSetting } from './lib/core/shared-settings.ts';
import { rerunRootless, rootlessAvailable, wantsRootless } from './lib/core/userns.ts';
import { isSymlink } from './lib/core/fs-checks.ts';
import { describeInRoot, executableInRoot } from './lib/core/in-root.ts';
import { checkOutputFile, checkOutputName, checkRootfsToPack } from './lib/core/input-checks.ts';
import { COMPRESSIONS, hostCompressor } from './lib/initrd/compress.ts';
import { checkNewcLimits, warnDroppedXattrs } from './lib/initrd/fidelity.ts';
import { planArchive, scanTree } from './lib/initrd/tree.ts';
import { writeInitrd } from './lib/initrd/write.ts';
import { stageOutputSbom } from './lib/sbom/output.ts';
import { die, info, ok, step, warn } from './lib/core/log.ts';


export const initrdSettings = {
  help: { flag: 'h', default: false, parse: truthy, help: 'show this help' } as SettingSpec<boolean>,
  image: {
    flag: 'o', arg: 'INITRD', env: 'INITRD_IMAGE', default: 'kata-containers-initrd.img', parse: text,
    help: 'path of the initrd to write',
  } as SettingSpec<string>,
  agentBin: { env: 'AGENT_BIN', container: 'set', default: 'kata-agent', parse: plainName('the agent binary in usr/bin'), help: 'name of the agent binary in usr/bin' } as SettingSpec<string>,
  agentInit: { env: 'AGENT_INIT', container: 'set', default: 'no', parse: yesNo, help: 'the agent is the init process (yes|no)' } as SettingSpec<'yes' | 'no'>,
  compression: {
    env: 'INITRD_COMPRESSION', container: 'set', default: 'gzip', parse: oneOf(...COMPRESSIONS),
    help: `compression: ${COMPRESSIONS.join(', ')} (gzip uses pigz on all cores when installed)`,
  } as SettingSpec<'gzip' | 'zstd' | 'none'>,
  sourceDateEpoch: { ...sourceDateEpochSetting, help: 'clamp archived mtimes to this time: same tree, same bytes' },
  ...containerScriptSettings,
};

export type InitrdSettings = ReturnType<typeof resolveSettings<typeof initrdSettings>>;

export const USAGE = `
Usage: initrd.ts [options] <rootfs-dir | DISTRO>

Create a Kata Containers initrd image from <rootfs-dir>. A DISTRO name uses
./DISTRO_rootfs (built with rootfs.ts when missing) and writes
kata-containers-initrd-DISTRO.img unless -o or INITRD_IMAGE is given.
/init is added to the archive (the directory is not changed): -> /sbin/init
with AGENT_INIT=yes, else -> /lib/systemd/systemd, as upstream.

Options and environment variables:
${describeSettings(initrdSettings)}
`;


/** The rootfs checks of upstream initrd_builder.sh (the paths are checked by main), before anything is written. */
export function checkRootfs(rootfs: string, s: Pick<InitrdSettings, 'agentBin' | 'agentInit'>): void {
  const init = executableInRoot(rootfs, 'sbin/init');
  if (init === 'missing') die(`/sbin/init is not installed in ${rootfs}`);
  if (init === 'dangling') die(`${describeInRoot(rootfs, 'sbin/init', init)}: point it at a file inside the rootfs`);
  ok('init is installed');
  const agent = executableInRoot(rootfs, `usr/bin/${s.agentBin}`);
  if (s.agentInit !== 'yes' && agent !== 'ok') {
    die(`${describeInRoot(rootfs, `usr/bin/${s.agentBin}`, agent)}: install the agent there, or use the AGENT_BIN variable to change the expected agent binary name`);
  }
  ok('Agent is installed');
}


/**
 * Where /init points, as upstream main chooses: sbin/init when the agent is
 * init, else systemd itself (upstream found /init -> /sbin/init ->
 * /lib/systemd/systemd not followed in some setups). A tree's own init wins.
 */
export function initTargetFor(rootfs: string, agentInit: 'yes' | 'no'): string {
  if (agentInit === 'yes') return '/sbin/init';
  const hasOwnInit = existsSync(join(rootfs, 'init')) || isSymlink(join(rootfs, 'init'));
  if (!hasOwnInit && !existsSync(join(rootfs, SYSTEMD_INIT))) {
    warn(`/init -> /${SYSTEMD_INIT}, but the rootfs has no ${SYSTEMD_INIT} (AGENT_INIT=no needs systemd): the initrd will not boot unless the kernel gets init=`);
  }
  return `/${SYSTEMD_INIT}`;
}

const SYSTEMD_INIT = 'lib/systemd/systemd';

export async function buildInitrd(rootfsArg: string, image: string, s: InitrdSettings): Promise<void> {
  const rootfs = realpathSync(rootfsArg); // a link to a tree packs the tree, not the link
  checkRootfs(rootfs, s);
  const out = resolve(image);
  info(`Creating ${out} based on rootfs at ${rootfs}`);
  const compressor = await hostCompressor(s.compression);
  await step(`Packing ${basename(out)} (newc cpio, ${compressor?.[0] ?? 'uncompressed'})`, async () => {
    const records = await scanTree(rootfs);
    checkNewcLimits(records, s.sourceDateEpoch);
    await warnDroppedXattrs(rootfs);
    const entries = planArchive(records, { sourceDateEpoch: s.sourceDateEpoch, initTarget: initTargetFor(rootfs, s.agentInit) });
    await writeInitrd(entries, out, compressor, async (tmp, sha256) => {
      const sbom = await stageOutputSbom(rootfs, {
        output: out, file: tmp, kind: 'initrd', settings: { compression: s.compression }, ...(sha256 ? { sha256 } : {}),
        ...(s.sourceDateEpoch !== undefined ? { epoch: s.sourceDateEpoch } : {}),
      });
      return sbom.commit;
    });
  });
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const opts = parseCommandLine(initrdSettings, argv, { min: 0, max: 1, what: 'one rootfs directory or distro name' });
  const s = resolveSettings(initrdSettings, env, opts);
  configureOutput(s);
  if (s.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (opts._.length !== 1) die('give one rootfs directory or distro name: see -h');
  checkOutputName(s.image, opts.o === undefined ? 'INITRD_IMAGE' : '-o');
  const { rootfs, distroOutput: defaultImage } = await rootfsForArg(String(opts._[0]), 'initrd');
  const image = opts.o === undefined && !env.INITRD_IMAGE && defaultImage ? defaultImage : s.image;
  // Before either path: an engine would create a missing bind-mount source.
  checkRootfsToPack(rootfs);
  checkOutputFile(resolve(image), rootfs);
  const engine = engineFor(s);
  // A non-root caller with a subordinate range reads the tree (0600 files, subordinate owners) as its build wrote it: as root of a user namespace.
  if (wantsRootless(engine) && rootlessAvailable()) await rerunRootless('initrd.ts');
  if (engine) {
    // Loaded only here: the container code is not needed on the host path.
    const { packInContainer } = await import('./lib/container/pack.ts');
    await packInContainer({
      tool: 'initrd', engine, rootfs, output: resolve(image), settings: s,
      env: containerEnv(initrdSettings, s),
    });
    return;
  }
  await buildInitrd(rootfs, image, s);
}

if (isMain(import.meta.url)) await runMain(main);
