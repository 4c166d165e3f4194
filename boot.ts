// boot.ts — smoke-test a built guest: boot a disk image or an initrd in QEMU
// (TCG) and report whether the agent came up.
// Usage: tsx boot.ts [options] <kata-containers.img | initrd>   (see -h)
import { existsSync, statSync } from 'node:fs';
import { parseCommandLine } from './lib/core/args.ts';
import {
  type SettingSpec, configureOutput, describeSettings, integer, isMain, oneOf, resolveSettings, runMain,
  text, truthy,
} from './lib/core/cli.ts';
import { outputSettings } from './lib/core/shared-settings.ts';
import { DEFAULT_MARKER, DEFAULT_TIMEOUT_SECONDS, bootGuest, bootKindOfFile } from './lib/boot/boot.ts';
import { checkExistingFile } from './lib/core/input-checks.ts';
import { die, info, ok } from './lib/core/log.ts';
import { startProgress } from './lib/core/progress.ts';
import { EscapeStripper, colourAllowed } from './lib/boot/console.ts';
import { bootVerdict, noiseNotes } from './lib/boot/verdict.ts';
import { parseExtensionOption, resolveExtensions } from './lib/boot/extensions.ts';
import { type Arch, SUPPORTED_ARCHES, checkArch } from './lib/core/arch.ts';

export const bootSettings = {
  help: { flag: 'h', default: false, parse: truthy, help: 'show this help' } as SettingSpec<boolean>,
  kernel: {
    flag: 'k', arg: 'KERNEL', env: 'BOOT_KERNEL', default: '', parse: text,
    help: 'guest kernel (default: the Debian cloud kernel, downloaded once and cached)',
  } as SettingSpec<string>,
  media: {
    flag: 'm', arg: 'MEDIA', env: 'BOOT_MEDIA', default: 'virtio', parse: oneOf('virtio', 'nvdimm'),
    help: 'how a disk image is attached: virtio (virtio-blk) or nvdimm (DAX, as Kata does)',
  } as SettingSpec<'virtio' | 'nvdimm'>,
  timeout: {
    flag: 't', arg: 'SECONDS', env: 'BOOT_TIMEOUT', default: DEFAULT_TIMEOUT_SECONDS, parse: integer(1, 3600),
    help: 'seconds to wait for the agent',
  } as SettingSpec<number>,
  marker: {
    flag: 'M', arg: 'TEXT', env: 'AGENT_MARKER', default: DEFAULT_MARKER, parse: text,
    help: 'console text that means the agent is up',
  } as SettingSpec<string>,
  rootHash: {
    flag: 'v', arg: 'FILE', env: 'BOOT_ROOT_HASH', default: '', parse: text,
    help: 'root_hash_<variant>.txt of a MEASURED_ROOTFS image (default: the one beside the image that fits it)',
  } as SettingSpec<string>,
  arch: {
    flag: 'a', arg: 'ARCH', env: 'BOOT_ARCH', default: '', parse: (raw: string, name: string) => (raw ? checkArch(raw, name) : ''),
    help: `guest architecture: ${SUPPORTED_ARCHES.join(', ')} (default: the one in the image's summary file, else the host's)`,
  } as SettingSpec<Arch | ''>,
  extension: {
    flag: 'e', arg: 'NAME=IMAGE[,ROOT_HASH_FILE]', default: '', parse: text,
    help: 'attach a guest extension image as the runtime does (repeatable): read-only virtio-blk, serial extension-NAME, ' +
      'kata.extension.NAME.verity_params from the root_hash_<variant>.txt beside IMAGE (a bare key without a hash partition)',
  } as SettingSpec<string>,
  quiet: { flag: 'q', default: false, parse: truthy, help: 'print only the last console lines' } as SettingSpec<boolean>,
  ...outputSettings,
};

const USAGE = `
Usage: boot.ts [options] <disk image | initrd>

Boot a Kata guest image (from image.ts) or initrd (from initrd.ts) in QEMU
with TCG, print its serial console, and say whether the agent came up (the
exit code says so too). With the default Debian kernel, a disk image boots
through a small shim initramfs that loads the virtio/NVDIMM/xfs/erofs modules.
A MEASURED_ROOTFS image (with a hash partition) boots through dm-verity as the
Kata runtime boots it: dm-mod.create="dm-verity,..." root=/dev/dm-0, from
root_hash_<variant>.txt. Extension images (-e, built with BUILD_VARIANT=
<name>-extension) are attached after the disk the way the runtime attaches
guest_extension_images; a guest with the kata-extension-mount units mounts
them at /run/kata-extensions/<name> before the agent starts.

Options and environment variables:
${describeSettings(bootSettings)}
`;

const TAIL_LINES = 30;

/** The guest console on stdout: colours only on a colour terminal. */
function consoleWriter(s: { noColor: string; term: string }): (text: string) => void {
  if (colourAllowed(process.stdout, s)) return (text) => void process.stdout.write(text);
  const plain = new EscapeStripper();
  return (text) => void process.stdout.write(plain.push(text));
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const opts = parseCommandLine(bootSettings, argv, { min: 0, max: 1, what: 'one disk image or initrd to boot' });
  // -e repeats: each one an extension, in order.
  const extensions = [opts.e ?? []].flat().map((raw) => parseExtensionOption(String(raw)));
  const s = resolveSettings(bootSettings, env, { ...opts, e: undefined });
  configureOutput(s);
  if (s.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (opts._.length !== 1) die('give one disk image or initrd to boot: see -h');
  const target = String(opts._[0]);
  if (!existsSync(target)) die(`${target} does not exist: give the path of a built image or initrd`);
  if (!statSync(target).isFile()) die(`${target} is not a regular file: give the path of a built image or initrd`);
  if (s.rootHash) checkExistingFile(s.rootHash, opts.v !== undefined ? '-v' : 'BOOT_ROOT_HASH', 'give the root_hash_<variant>.txt image.ts wrote with the image, or leave it unset');
  if (s.kernel) checkExistingFile(s.kernel, opts.k !== undefined ? '-k' : 'BOOT_KERNEL', 'give the path of a guest kernel (vmlinuz) or leave it unset');
  const kind = bootKindOfFile(target) ?? die(`${target} is neither a disk image (MBR) nor an initrd (gzip, zstd or cpio)`);
  if (kind === 'initrd' && extensions.length) die(`${target} is an initrd: extension images (-e) are attached to a disk image boot`);
  if (kind === 'initrd' && s.rootHash) die(`${target} is an initrd: a root hash file (-v) belongs to a MEASURED_ROOTFS disk image`);
  resolveExtensions(extensions); // every extension checked before anything starts
  const what = `${kind} ${target}${kind === 'image' ? ` (${s.media})` : ''}${extensions.map((e) => ` + extension ${e.name}`).join('')}`;
  // The console streams on a terminal; in a log (or with -q) QEMU's silent
  // first seconds get progress lines like any long step.
  info(`booting ${what}, waiting up to ${s.timeout} s for "${s.marker}"`);
  const stopProgress = s.quiet || !process.stdout.isTTY ? startProgress(`booting ${kind}`) : () => {};
  const result = await bootGuest({
    [kind]: target,
    media: s.media,
    kernel: s.kernel || undefined,
    rootHashFile: s.rootHash || undefined,
    extensions,
    arch: s.arch || undefined,
    timeoutSeconds: s.timeout,
    marker: s.marker,
    onConsole: s.quiet ? undefined : consoleWriter(s),
  }).finally(stopProgress);
  if (s.quiet) process.stdout.write(result.console.trimEnd().split('\n').slice(-TAIL_LINES).join('\n') + '\n');
  for (const note of noiseNotes(result.console)) info(`note: ${note}`);
  process.stdout.write(`${bootVerdict(result, s.marker)}\n`);
  if (!result.markerSeen && result.failure) die(`FAIL after ${result.seconds.toFixed(1)} s: ${result.failure}`);
  if (!result.markerSeen) die(`the agent did not come up: ${result.reason}`);
  ok(`the agent came up after ${result.seconds.toFixed(1)} s`);
}

if (isMain(import.meta.url)) await runMain(main);
