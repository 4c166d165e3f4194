// Checks on the paths an entry point reads from and writes to, made before
// anything is written: each failure is one die() naming the value and the fix.
import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { die } from './log.ts';
import { realPathOf, unsafeRootfsReason } from './safe-paths.ts';

/** Host directories no output file may be written into (or below). */
const NO_OUTPUT_IN = ['/proc', '/sys', '/dev', '/etc', '/boot', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/run', '/usr/bin', '/usr/sbin', '/usr/lib'];

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** A rootfs directory to pack: it exists, and it is not the host's / or a system directory. */
export function checkRootfsToPack(rootfs: string): void {
  if (!isDir(rootfs)) die(`${rootfs} is not a directory: give a rootfs directory or a distro name`);
  if (realPathOf(rootfs) === '/') die('refusing to pack the host root directory /: give a rootfs directory');
  const reason = unsafeRootfsReason(rootfs);
  if (reason) die(`refusing to pack ${rootfs}: ${reason}; give a rootfs directory`);
}

/**
 * An output file: its directory exists and is writable, it is not a
 * directory itself, not in a host system directory and not inside the
 * rootfs being packed (which would then contain its own image).
 */
export function checkOutputFile(output: string, rootfs: string, option = '-o'): void {
  const outDir = dirname(output);
  if (!isDir(outDir)) die(`the output directory ${outDir} does not exist: create it or change ${option}`);
  if (isDir(output)) die(`${option} ${output} is a directory: give a file name, e.g. ${output.replace(/\/$/, '')}/kata.img`);
  const realDir = realPathOf(outDir);
  const system = NO_OUTPUT_IN.find((d) => realDir === d || realDir.startsWith(`${d}/`));
  if (system) die(`refusing to write ${output} into the host system directory ${system}: change ${option}`);
  try {
    accessSync(outDir, constants.W_OK);
  } catch {
    die(`the output directory ${outDir} is not writable: change ${option} or its permissions`);
  }
  const rel = relative(realPathOf(rootfs), realDir);
  if (!rel.startsWith('..') && !rel.startsWith('/')) die(`${output} is inside the rootfs ${rootfs}: write it elsewhere (${option})`);
}

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** AGENT_TARBALL: a readable zstd file. */
export function checkAgentTarball(path: string): void {
  if (!existsSync(path) || !statSync(path).isFile()) die(`AGENT_TARBALL=${path} is not a file: give the path of a kata-agent .tar.zst`);
  const head = Buffer.alloc(4);
  try {
    const fd = openSync(path, 'r');
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    die(`AGENT_TARBALL=${path} cannot be read (${(e as NodeJS.ErrnoException).code}): fix its permissions`);
  }
  if (!head.equals(ZSTD_MAGIC)) die(`AGENT_TARBALL=${path} is not a zstd archive: give a kata-agent .tar.zst (tar --zstd -cf)`);
}

/** A file named by a setting: exists and is a regular file. */
export function checkExistingFile(path: string, name: string, fix: string): void {
  if (!existsSync(path)) die(`${name}=${path} does not exist: ${fix}`);
  if (!statSync(path).isFile()) die(`${name}=${path} is not a regular file: ${fix}`);
}

/** A setting that becomes one component of an output file name (e.g. root_hash_<BUILD_VARIANT>.txt). */
export function fileNamePart(raw: string, name: string): string {
  if (raw === '') return raw;
  if (!/^[A-Za-z0-9._+-]+$/.test(raw) || raw === '.' || raw === '..') {
    die(`${name}=${raw} is not valid: it becomes part of a file name, so use only letters, digits, '.', '_', '+' and '-' (no '/')`);
  }
  if (raw.length > 200) die(`${name} is ${raw.length} characters long: give at most 200`);
  return raw;
}

/** The raw -o value: a trailing '/' names a directory, never the file to write. */
export function checkOutputName(raw: string, option = '-o'): void {
  const given = option.startsWith('-') ? `${option} ${raw}` : `${option}=${raw}`;
  if (raw === '') die(`${option} was given an empty file name: give the output file's name`);
  if (raw.endsWith('/')) die(`${given} names a directory: give a file name, e.g. ${raw}kata.img`);
}
