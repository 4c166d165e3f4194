// Small questions about paths that the builders' checks ask.
import { accessSync, constants, lstatSync, statSync } from 'node:fs';

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
