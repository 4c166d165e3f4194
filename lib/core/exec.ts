// The one command runner: zx's `$`, configured once. Every external command
// goes through it, so quoting, errors and the DEBUG echo are uniform.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { $, ProcessOutput } from 'zx/core';
import { fx, realEffects, useEffects } from './effects.ts';
import { planEffects, planSpawn, type PlanPrinter } from './plan.ts';

$.shell = '/bin/bash';
$.verbose = false;
$.quiet = true;

/** DEBUG: echo every command and its output (set once from the resolved settings: cli.ts configureOutput). */
export function echoCommands(on: boolean): void {
  $.verbose = on;
  $.quiet = !on;
}

export { $, ProcessOutput };

// After SIGINT/SIGTERM the build must stop at its next command, or it goes on
// writing (a `cp` started after the signal never saw it) while the cleanup
// removes what it writes to. Undo work (cleanups, removeTree) still runs.
const undoScope = new AsyncLocalStorage<true>();
let stopSignal: NodeJS.Signals | undefined;
const running = new Set<ChildProcess>();

/** Run `fn` as undo work: its commands run even after an interrupt. */
export function undoing<T>(fn: () => T): T {
  return undoScope.run(true, fn);
}

/** `pid` and every process below it (found by their parent pids in /proc), `pid` first. */
export function processTree(pid: number, proc = '/proc'): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`${proc}/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // After the command's name in parentheses: state, then the parent's pid.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/**
 * Stop the build's commands: the running ones and the processes they started
 * get `signal` (a kill of our pid alone reaches none of them; mmdebstrap, for
 * one, ignores it while its worker goes on), later ones die at once.
 */
export function interruptCommands(signal: NodeJS.Signals): void {
  stopSignal = signal;
  for (const child of running) {
    if (child.pid === undefined) continue;
    for (const pid of processTree(child.pid)) {
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile
      }
    }
  }
}

function interruptible(realSpawn: typeof spawn): typeof spawn {
  return ((...args: Parameters<typeof spawn>) => {
    const child = realSpawn(...args);
    if (undoScope.getStore()) return child;
    if (stopSignal) child.kill(stopSignal);
    running.add(child);
    child.once('exit', () => running.delete(child));
    return child;
  }) as typeof spawn;
}

const commandSpawn = interruptible($.spawn);
$.spawn = commandSpawn;

// A failed command's output does not say which command it was: remember the
// command line of each failure (zx reports start and end through $.log), so
// the ERROR can name it.
interface Failure { cmd: string; exitCode: number | null; stderrTail: string }
const started = new Map<number | string, { cmd: string; stderrTail: string }>();
const failures: Failure[] = [];
const TAIL = 4096;
const zxLog = $.log;
$.log = (entry) => {
  const id = (entry as { id?: number | string }).id;
  if (id !== undefined) {
    if (entry.kind === 'cmd') started.set(id, { cmd: entry.cmd, stderrTail: '' });
    else if (entry.kind === 'stderr') {
      const run = started.get(id);
      if (run) run.stderrTail = (run.stderrTail + String(entry.data)).slice(-TAIL);
    } else if (entry.kind === 'end') {
      const run = started.get(id);
      started.delete(id);
      if (run && entry.exitCode !== 0) {
        failures.push({ cmd: run.cmd, exitCode: entry.exitCode, stderrTail: run.stderrTail });
        if (failures.length > 16) failures.shift();
      }
    }
  }
  zxLog(entry);
};

/** The command line of a failed command's output, when it is one of the recent failures. */
export function commandOf(out: ProcessOutput): string | undefined {
  const stderr = out.stderr;
  for (let i = failures.length - 1; i >= 0; i--) {
    const f = failures[i]!;
    if (f.exitCode === out.exitCode && stderr.endsWith(f.stderrTail)) return f.cmd;
  }
  return undefined;
}

/** Plan mode (lib/core/plan.ts): every command is printed instead of run, and so is every disk effect (lib/core/effects.ts). */
export function startPlanMode(print: PlanPrinter = (line) => process.stdout.write(`${line}\n`)): void {
  if (fx.planning) return;
  useEffects(planEffects(print));
  $.spawn = planSpawn(print, () => $.prefix ?? '');
}

/** Leave plan mode (tests): the real effects come back. */
export function stopPlanMode(): void {
  useEffects(realEffects);
  $.spawn = commandSpawn;
}

/** `true` when the command exists on PATH. */
export async function haveCommand(name: string): Promise<boolean> {
  // A plan describes the build on a host that has the build's tools.
  if (fx.planning) return true;
  const r = await $({ nothrow: true, quiet: true, verbose: false })`command -v ${name}`;
  return r.exitCode === 0;
}

/** The last non-empty line of a failed command's stderr (or stdout). */
export function failureSummary(out: ProcessOutput): string {
  const text = (out.stderr.trim() || out.stdout.trim()).split('\n');
  return text[text.length - 1] ?? '';
}
