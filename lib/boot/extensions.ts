// Guest extension images attached the way both Kata runtimes attach the
// entries of `guest_extension_images`: each a read-only virtio-blk disk after
// the base disk with serial extension-<name> (the guest finds it by that
// serial), and one kernel parameter kata.extension.<name>.verity_params per
// extension — the root hash file's line, or a bare key when unmeasured.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Arch } from '../core/arch.ts';
import { die } from '../core/log.ts';
import { diskPartitions } from './partitions.ts';
import { findRootHashFile, parseVerityParams, readVerityParams } from './verity.ts';

export interface ExtensionSpec {
  name: string;
  image: string;
  /** root_hash_<variant>.txt of a measured extension; default: the one beside the image that fits it. */
  rootHashFile?: string;
  /**
   * The verity_params value as a runtime configuration would carry it,
   * passed as given ('' gives the bare key): no check against the image.
   */
  verityParams?: string;
}

interface AttachedExtension {
  name: string;
  image: string;
  /** '' for an unmeasured extension (the bare key). */
  verityParams: string;
  rootHashFile?: string;
}

const SERIAL_PREFIX = 'extension-';
/** virtio-blk hands the guest 20 bytes of serial (VIRTIO_BLK_ID_BYTES). */
const SERIAL_BYTES = 20;
export const MAX_EXTENSION_NAME = SERIAL_BYTES - SERIAL_PREFIX.length;

const extensionSerial = (name: string) => `${SERIAL_PREFIX}${name}`;

/** A name as the runtimes accept it, short enough to survive in the serial; `what` names the setting. */
export function checkExtensionName(name: string, what: string): void {
  if (!name) die(`${what}: the extension has no name: give NAME=IMAGE`);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    die(`${what}: extension name "${name}" may hold only ASCII letters, digits, '-' and '_' (it goes into the virtio-blk serial and the kata.extension.<name>.verity_params kernel parameter)`);
  }
  if (name.length > MAX_EXTENSION_NAME) {
    die(`${what}: extension name "${name}" is ${name.length} characters: at most ${MAX_EXTENSION_NAME} fit in the 20-byte virtio-blk serial "${SERIAL_PREFIX}<name>"`);
  }
}

/** `-e NAME=IMAGE[,ROOT_HASH_FILE]` of boot.ts. */
export function parseExtensionOption(raw: string): ExtensionSpec {
  const at = raw.indexOf('=');
  if (at < 0) die(`-e ${raw}: give NAME=IMAGE (or NAME=IMAGE,ROOT_HASH_FILE)`);
  const name = raw.slice(0, at);
  const [image, rootHashFile, ...rest] = raw.slice(at + 1).split(',');
  if (rest.length) die(`-e ${raw}: give NAME=IMAGE or NAME=IMAGE,ROOT_HASH_FILE (one comma at most)`);
  checkExtensionName(name, `-e ${raw}`);
  if (!image) die(`-e ${raw}: no image after "${name}=": give NAME=IMAGE`);
  return { name, image, ...(rootHashFile ? { rootHashFile } : {}) };
}

/** The kernel parameter value for one extension, after checking it against the image. */
function verityParamsOf(spec: ExtensionSpec, what: string): { verityParams: string; rootHashFile?: string } {
  if (spec.verityParams !== undefined) {
    if (spec.verityParams.trim()) parseVerityParams(spec.verityParams, what);
    return { verityParams: spec.verityParams.trim() };
  }
  const parts = diskPartitions(spec.image);
  if (!parts.data) die(`${what}: ${spec.image} has no partition 1: give an extension image built by image.ts`);
  if (!parts.hash) {
    if (spec.rootHashFile) die(`${what}: ${spec.image} has no dm-verity hash partition (not built with MEASURED_ROOTFS=yes): drop the root hash file ${spec.rootHashFile}`);
    return { verityParams: '' };
  }
  const hint = `give it as -e ${spec.name}=${spec.image},ROOT_HASH_FILE`;
  const file = spec.rootHashFile ?? findRootHashFile(spec.image, parts.data.bytes, hint);
  if (!existsSync(file)) die(`${what}: root hash file ${file} does not exist: give the root_hash_<variant>.txt image.ts wrote with the extension`);
  const verity = readVerityParams(file);
  if (verity.dataBlocks * verity.dataBlockSize !== parts.data.bytes) {
    die(`${what}: ${file} covers ${verity.dataBlocks * verity.dataBlockSize} bytes but partition 1 of ${spec.image} has ${parts.data.bytes}: give the root hash file built with this extension`);
  }
  return { verityParams: readFileSync(file, 'utf8').trim(), rootHashFile: file };
}

/** Check every extension (names unique, images there) and work out its kernel parameter. */
export function resolveExtensions(specs: ExtensionSpec[]): AttachedExtension[] {
  const seen = new Set<string>();
  return specs.map((spec) => {
    const what = `extension ${spec.name}`;
    checkExtensionName(spec.name, what);
    if (seen.has(spec.name)) die(`${what}: the name is given twice: each extension needs its own name (its serial and mount point)`);
    seen.add(spec.name);
    if (!existsSync(spec.image)) die(`${what}: ${spec.image} does not exist: give the path of an extension image built by image.ts`);
    if (!statSync(spec.image).isFile()) die(`${what}: ${spec.image} is not a regular file: give the path of an extension image`);
    return { name: spec.name, image: spec.image, ...verityParamsOf(spec, what) };
  });
}

/** kata.extension.<name>.verity_params[=<line>], one per extension, in order. */
export function extensionKernelParams(extensions: AttachedExtension[]): string[] {
  return extensions.map((e) => `kata.extension.${e.name}.verity_params${e.verityParams ? `=${e.verityParams}` : ''}`);
}

/** QEMU arguments: read-only virtio-blk disks, always virtio-blk (ccw on s390x), as the Go runtime writes them. */
export function extensionQemuArgs(extensions: AttachedExtension[], arch: Arch): string[] {
  const device = arch === 's390x' ? 'virtio-blk-ccw' : 'virtio-blk-pci,disable-modern=false';
  return extensions.flatMap((e) => {
    const id = extensionSerial(e.name);
    return [
      '-drive', `id=${id},file=${e.image.replaceAll(',', ',,')},aio=threads,format=raw,if=none,readonly=on`,
      '-device', `${device},drive=${id},config-wce=off,share-rw=on,serial=${id}`,
    ];
  });
}

/** What our kata-extension-mount.sh prints before it refuses an extension (the unit then powers the guest off). */
export const EXTENSION_REFUSAL = /kata-extension-mount: ERROR: [^\n]*/;
