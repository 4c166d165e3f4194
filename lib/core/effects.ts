// The disk changes of a build, through one narrow interface: the real
// implementation makes them, a plan's (lib/core/plan.ts) prints them as
// `# <op> PATH` lines and changes nothing. Commands are the other effect:
// they go through `$` (lib/core/exec.ts), whose spawn a plan replaces.
// test/core/disk-writes.test.ts keeps every other module from importing the
// disk-changing node:fs calls, so nothing slips past a plan.
import {
  appendFileSync, chmodSync, chownSync, copyFileSync, lchownSync, linkSync, lutimesSync, mkdirSync, mkdtempSync, renameSync,
  rmdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync, type MakeDirectoryOptions, type Mode, type RmOptions,
  type WriteFileOptions,
} from 'node:fs';

export type Time = number | Date;

export interface Effects {
  /** True when the effects are printed, not made: the tree a plan describes is not there to be read. */
  readonly planning: boolean;
  /** A line of the plan for an effect made by other means (an unpacked archive, an edited file); nothing for real. */
  note(line: string): void;
  write(path: string, data: string | NodeJS.ArrayBufferView, opts?: WriteFileOptions): void;
  append(path: string, data: string): void;
  mkdir(path: string, opts?: MakeDirectoryOptions | Mode): void;
  /** A new directory named `prefix` + six random characters (a plan names it `prefix`XXXXXX). */
  mkdtemp(prefix: string): string;
  /** rm (a tree with `recursive`). */
  remove(path: string, opts?: RmOptions): void;
  rmdir(path: string): void;
  unlink(path: string): void;
  rename(from: string, to: string): void;
  /** Copy a file; `mode`: copyFileSync's flags (COPYFILE_EXCL). */
  copy(from: string, to: string, mode?: number): void;
  symlink(target: string, path: string): void;
  /** A hard link `path` to the file `existing`. */
  link(existing: string, path: string): void;
  chmod(path: string, mode: Mode): void;
  chown(path: string, uid: number, gid: number): void;
  /** chown of a link itself. */
  lchown(path: string, uid: number, gid: number): void;
  /** Set the times; `noFollow`: of a link itself. */
  touch(path: string, atime: Time, mtime: Time, noFollow?: boolean): void;
}

export const realEffects: Effects = {
  planning: false,
  note: () => {},
  write: (path, data, opts) => writeFileSync(path, data, opts),
  append: (path, data) => appendFileSync(path, data),
  mkdir: (path, opts) => void mkdirSync(path, opts),
  mkdtemp: (prefix) => mkdtempSync(prefix),
  remove: (path, opts) => rmSync(path, opts),
  rmdir: (path) => rmdirSync(path),
  unlink: (path) => unlinkSync(path),
  rename: (from, to) => renameSync(from, to),
  copy: (from, to, mode) => copyFileSync(from, to, mode),
  symlink: (target, path) => symlinkSync(target, path),
  link: (existing, path) => linkSync(existing, path),
  chmod: (path, mode) => chmodSync(path, mode),
  chown: (path, uid, gid) => chownSync(path, uid, gid),
  lchown: (path, uid, gid) => lchownSync(path, uid, gid),
  touch: (path, atime, mtime, noFollow) => (noFollow ? lutimesSync : utimesSync)(path, atime, mtime),
};

/**
 * The effects of this run: the real ones, or a plan's from its start
 * (lib/core/exec.ts startPlanMode, once, before the build's first change).
 * A live binding: modules read `fx` at each call.
 */
export let fx: Effects = realEffects;

export function useEffects(effects: Effects): void {
  fx = effects;
}
