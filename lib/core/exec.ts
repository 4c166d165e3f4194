// The one command runner: zx's `$`, configured once. Every external command
// goes through it, so quoting, errors and the DEBUG echo are uniform.
import { $, ProcessOutput } from 'zx/core';
import { debugEnabled } from './log.ts';
import { planning, planSpawn, startPlan, stopPlan, type PlanPrinter } from './plan.ts';

$.shell = '/bin/bash';
$.verbose = debugEnabled();
$.quiet = !debugEnabled();

export { $, ProcessOutput };

const realSpawn = $.spawn;

/** Plan mode (lib/core/plan.ts): every command is printed instead of run, and so is every disk write. */
export function startPlanMode(print?: PlanPrinter): void {
  startPlan(print);
  $.spawn = planSpawn(() => $.prefix ?? '');
}

export function stopPlanMode(): void {
  stopPlan();
  $.spawn = realSpawn;
}

/** `true` when the command exists on PATH. */
export async function haveCommand(name: string): Promise<boolean> {
  // A plan describes the build on a host that has the build's tools.
  if (planning()) return true;
  const r = await $({ nothrow: true, quiet: true, verbose: false })`command -v ${name}`;
  return r.exitCode === 0;
}

/** The last non-empty line of a failed command's stderr (or stdout). */
export function failureSummary(out: ProcessOutput): string {
  const text = (out.stderr.trim() || out.stdout.trim()).split('\n');
  return text[text.length - 1] ?? '';
}
