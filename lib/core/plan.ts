// Plan mode (rootfs.ts --dry-run, PLAN=1): a build that prints what it would
// do instead of doing it. Both kinds of effect are replaced for the whole
// build without any distro knowing: the command runner's spawn prints
// `+ CMD` and succeeds with empty output, and the disk effects
// (lib/core/effects.ts) print `# <op> PATH` lines (lib/core/exec.ts
// startPlanMode installs both).
import type { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Effects } from './effects.ts';

export type PlanPrinter = (line: string) => void;

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
export function planSpawn(print: PlanPrinter, prefix: () => string): typeof spawn {
  const fake = (cmd: string, _args: readonly string[], opts: { cwd?: string | URL }) => {
    const p = prefix();
    const shown = p && cmd.startsWith(p) ? cmd.slice(p.length) : cmd;
    print(commandLine(shown.trim(), opts.cwd === undefined ? undefined : String(opts.cwd)));
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

const octal = (mode: unknown) => (typeof mode === 'number' ? mode.toString(8) : String(mode));

/** The disk effects of a plan: each prints its line, none touches the disk. */
export function planEffects(print: PlanPrinter): Effects {
  // A second recursive mkdir of a planned directory is a no-op, as on disk.
  const plannedDirs = new Set<string>();
  return {
    planning: true,
    note: print,
    write: (path, data) => writeLines(path, data).forEach(print),
    append: (path) => print(`# append ${path}`),
    mkdir: (path, opts) => {
      if (typeof opts === 'object' && opts.recursive && plannedDirs.has(path)) return;
      plannedDirs.add(path);
      print(`# mkdir ${path}`);
    },
    mkdtemp: (prefix) => {
      const dir = `${prefix}XXXXXX`;
      print(`# mkdir ${dir}`);
      return dir;
    },
    remove: (path) => print(`# remove ${path}`),
    rmdir: (path) => print(`# remove ${path}`),
    unlink: (path) => print(`# remove ${path}`),
    rename: (from, to) => print(`# rename ${from} ${to}`),
    copy: (from, to) => print(`# copy ${from} ${to}`),
    symlink: (target, path) => print(`# symlink ${path} -> ${target}`),
    link: (existing, path) => print(`# link ${path} -> ${existing}`),
    chmod: (path, mode) => print(`# chmod ${octal(mode)} ${path}`),
    chown: (path) => print(`# chown ${path}`),
    lchown: (path) => print(`# chown ${path}`),
    touch: (path) => print(`# touch ${path}`),
  };
}
