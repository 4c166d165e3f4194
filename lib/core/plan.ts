// Plan mode (rootfs.ts --dry-run, PLAN=1): a build that prints what it would
// do instead of doing it. Two guards make that hold for every distro without
// any distro knowing: the command runner's spawn prints `+ CMD` and succeeds
// with empty output (lib/core/exec.ts installs it), and the filesystem calls that
// change the disk print `# <op> PATH` lines instead.
import type { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { PassThrough } from 'node:stream';

export type PlanPrinter = (line: string) => void;

let printer: PlanPrinter | undefined;

/** True while plan mode is on. */
export function planning(): boolean {
  return printer !== undefined;
}

/** Print one plan line (plan mode only). */
export function planLine(line: string): void {
  printer?.(line);
}

/** A shell word, quoted only when it needs to be. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `+ CMD` line; a command run in another directory is wrapped in a subshell. */
export function commandLine(cmd: string, cwd: string | undefined, here = process.cwd()): string {
  return cwd && cwd !== here ? `+ (cd ${shellWord(cwd)} && ${cmd})` : `+ ${cmd}`;
}

/** Text written by the build, shown in full when it is short text (configs, units). */
const SHOWN_WRITE_LIMIT = 4096;

export function writeLines(path: string, data: unknown): string[] {
  if (typeof data === 'string' && data.length <= SHOWN_WRITE_LIMIT) {
    const body = data.endsWith('\n') ? data.slice(0, -1) : data;
    return [`# write ${path}`, ...(body === '' ? [] : body.split('\n').map((l) => `#   ${l}`))];
  }
  const size = typeof data === 'string' ? Buffer.byteLength(data) : (data as ArrayBufferView | undefined)?.byteLength ?? 0;
  return [`# write ${path} (${size} bytes)`];
}

/**
 * zx's spawn in plan mode: print the command (without the runner's prefix)
 * and hand back a child that exits 0 with no output.
 */
export function planSpawn(prefix: () => string): typeof spawn {
  const fake = (cmd: string, _args: readonly string[], opts: { cwd?: string | URL }) => {
    const p = prefix();
    const shown = p && cmd.startsWith(p) ? cmd.slice(p.length) : cmd;
    planLine(commandLine(shown.trim(), opts.cwd === undefined ? undefined : String(opts.cwd)));
    const child = Object.assign(new EventEmitter(), {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stdin: new PassThrough(),
      pid: undefined,
      kill: () => true,
    });
    setImmediate(() => {
      child.stdout.end();
      child.stderr.end();
      child.emit('exit', 0, null);
      child.emit('close', 0, null);
    });
    return child;
  };
  return fake as unknown as typeof spawn;
}

type AnyFn = (...a: any[]) => any;
const plannedDirs = new Set<string>();
const p = (x: unknown) => String(x);

/** What each disk-changing call prints; its return value in plan mode. */
const FS_EFFECTS: Record<string, (print: (...lines: string[]) => void, ...a: any[]) => unknown> = {
  writeFileSync: (print, path, data) => print(...writeLines(p(path), data)),
  appendFileSync: (print, path) => print(`# append ${p(path)}`),
  mkdirSync: (print, path, opts) => {
    // A second recursive mkdir of a planned directory is a no-op, as on disk.
    if (opts?.recursive && plannedDirs.has(p(path))) return undefined;
    plannedDirs.add(p(path));
    print(`# mkdir ${p(path)}`);
  },
  mkdtempSync: (print, prefix) => {
    const dir = `${p(prefix)}XXXXXX`;
    print(`# mkdir ${dir}`);
    return dir;
  },
  rmSync: (print, path) => print(`# remove ${p(path)}`),
  rmdirSync: (print, path) => print(`# remove ${p(path)}`),
  unlinkSync: (print, path) => print(`# remove ${p(path)}`),
  renameSync: (print, from, to) => print(`# rename ${p(from)} ${p(to)}`),
  copyFileSync: (print, from, to) => print(`# copy ${p(from)} ${p(to)}`),
  cpSync: (print, from, to) => print(`# copy ${p(from)} ${p(to)}`),
  symlinkSync: (print, target, path) => print(`# symlink ${p(path)} -> ${p(target)}`),
  linkSync: (print, from, to) => print(`# link ${p(to)} -> ${p(from)}`),
  chmodSync: (print, path, mode) => print(`# chmod ${typeof mode === 'number' ? mode.toString(8) : p(mode)} ${p(path)}`),
  chownSync: (print, path) => print(`# chown ${p(path)}`),
  lchownSync: (print, path) => print(`# chown ${p(path)}`),
  utimesSync: (print, path) => print(`# touch ${p(path)}`),
  truncateSync: (print, path) => print(`# truncate ${p(path)}`),
};

const saved = new Map<string, AnyFn>();

/**
 * Start plan mode: from now on the disk-changing `node:fs` calls of every
 * module (named imports included) print instead of acting.
 */
export function startPlan(print: PlanPrinter = (line) => process.stdout.write(`${line}\n`)): void {
  if (printer) return;
  printer = print;
  plannedDirs.clear();
  const mutable = fs as unknown as Record<string, AnyFn>;
  for (const [name, effect] of Object.entries(FS_EFFECTS)) {
    saved.set(name, mutable[name]!);
    mutable[name] = (...a: any[]) => effect((...lines) => lines.forEach(planLine), ...a);
  }
  syncBuiltinESMExports();
}

/** Leave plan mode (tests): the real calls come back. */
export function stopPlan(): void {
  const mutable = fs as unknown as Record<string, AnyFn>;
  for (const [name, fn] of saved) mutable[name] = fn;
  saved.clear();
  syncBuiltinESMExports();
  printer = undefined;
}
