// The one command runner: zx's `$`, configured once. Every external command
// goes through it, so quoting, errors and the DEBUG echo are uniform.
import { $, ProcessOutput } from 'zx';
import { debugEnabled } from './log.ts';

$.shell = '/bin/bash';
$.verbose = debugEnabled();
$.quiet = !debugEnabled();

export { $, ProcessOutput };

/** `true` when the command exists on PATH. */
export async function haveCommand(name: string): Promise<boolean> {
  const r = await $({ nothrow: true, quiet: true, verbose: false })`command -v ${name}`;
  return r.exitCode === 0;
}

/** The last non-empty line of a failed command's stderr (or stdout). */
export function failureSummary(out: ProcessOutput): string {
  const text = (out.stderr.trim() || out.stdout.trim()).split('\n');
  return text[text.length - 1] ?? '';
}
