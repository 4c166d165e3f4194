// Which package database a tree has, read with its reader.
import { readApk } from './apk.ts';
import { readDpkg } from './dpkg.ts';
import type { PackageSet } from './packages.ts';
import { readRpm } from './rpm.ts';

/** The installed packages of `root`, from the first database found (dpkg, rpm, apk); undefined without one. */
export async function readInstalledPackages(root: string): Promise<PackageSet | undefined> {
  return readDpkg(root) ?? (await readRpm(root)) ?? readApk(root);
}
