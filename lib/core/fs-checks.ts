// Small questions about paths that the builders' checks ask.
import { accessSync, constants, lstatSync, readFileSync, statSync } from 'node:fs';

/** A regular file (links followed) that may be executed. */
export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A symbolic link, dangling or not. */
export function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Something is at the path itself (a dangling link counts; existsSync would follow it). */
export function entryExists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

interface MountEntry {
  point: string;
  options: string[];
}

/** The mounts of this process, in mount order (`\040` in a path is a space). */
export function mountTable(text = readFileSync('/proc/self/mounts', 'utf8')): MountEntry[] {
  return text.split('\n').flatMap((line) => {
    const [, point, , options] = line.split(' ');
    return point && options ? [{ point: point.replace(/\\040/g, ' '), options: options.split(',') }] : [];
  });
}
