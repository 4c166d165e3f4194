// Entry-point plumbing shared by rootfs.ts, image.ts, initrd.ts and friends:
// "am I run directly?", one ERROR line per failure, cleanup on every exit
// path (including SIGINT/SIGTERM), and a declarative settings table.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ProcessOutput, commandOf, echoCommands, failureSummary, interruptCommands, undoing } from './exec.ts';
import { BuildError, die, error, printTotals } from './log.ts';
import { setProgressForm } from './progress.ts';
import { isOn } from './yes-no.ts';
import { showText } from './show-path.ts';

/** True when the module with this `import.meta.url` is the script being run. */
export function isMain(importMetaUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(importMetaUrl));
  } catch {
    return false;
  }
}

/** The command line that runs this script again: through scripts/launch.mjs when it started the script. */
export function selfCommand(): string[] {
  const launcher = (globalThis as Record<symbol, unknown>)[Symbol.for('osbuilder-ts.launcher')];
  return [process.execPath, ...process.execArgv, ...(typeof launcher === 'string' ? [launcher] : []), ...process.argv.slice(1)];
}

type Cleanup = () => void | Promise<void>;
const cleanups: Cleanup[] = [];

/** Register an undo action (unmount, remove temp file...). Returns a function that drops it. */
export function onCleanup(fn: Cleanup): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

let cleaning: Promise<void> | undefined;

/** Run and drop every registered cleanup, newest first; never throws. Concurrent callers share one run. */
function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const fn = cleanups.pop()!;
      try {
        await undoing(fn);
      } catch (e) {
        error(`cleanup failed: ${(e as Error).message}`);
      }
    }
  })().finally(() => {
    cleaning = undefined;
  });
  return cleaning;
}

export function errorMessage(e: unknown): string {
  if (e instanceof BuildError) return e.message;
  if (e instanceof ProcessOutput) {
    const summary = failureSummary(e);
    const cmd = commandOf(e);
    return `command failed (exit ${e.exitCode})${cmd ? `: ${firstWords(cmd)}` : ''}${summary ? `: ${summary}` : ''}`;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

let debug = false;

/**
 * Set how this process writes, from its resolved settings (outputSettings in
 * shared-settings.ts): called once by each entry point, so that nothing reads
 * DEBUG, NO_COLOR or TERM from the environment on its own.
 */
export function configureOutput(s: { debug: boolean; noColor?: string; term?: string }): void {
  debug = s.debug;
  echoCommands(s.debug);
  setProgressForm({ debug: s.debug, plain: !!s.noColor || s.term === 'dumb' });
}

/** An error that is neither a refusal nor a failed command is a bug of ours: say so; DEBUG=1 shows its stack. */
function reportBug(e: unknown): void {
  const what = e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
  error(`unexpected error (a bug in osbuilder-ts; ${debug ? 'its stack follows' : 'rerun with DEBUG=1 for its stack'}): ${what}`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
}

/** The start of a command line, enough to know which command it was. */
function firstWords(cmd: string): string {
  const words = cmd.trim().split(/\s+/);
  const head = words.slice(0, 3).join(' ');
  return head.length > 60 ? `${head.slice(0, 57)}...` : words.length > 3 ? `${head} ...` : head;
}

/** How long an interrupted build may take to reach its next command and undo its own steps before the cleanups run anyway. */
const SETTLE_MS = 15_000;

/**
 * Run an entry point: on failure print exactly one `ERROR:` line and exit 1;
 * on SIGINT/SIGTERM stop the commands, let the build unwind, run the
 * cleanups and exit 130/143.
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  let interrupted: NodeJS.Signals | undefined;
  const exitInterrupted = () => process.exit(interrupted === 'SIGINT' ? 130 : 143);
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C signals the whole process group, so repeats arrive while we
    // clean up: ignore them rather than die half-way through.
    if (interrupted) return;
    interrupted = signal;
    error(`interrupted by ${signal}, cleaning up`);
    interruptCommands(signal);
    // The cleanups wait for the build to stop writing; a wait on anything but a command is not waited for long.
    setTimeout(() => void runCleanups().finally(exitInterrupted), SETTLE_MS);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const start = Date.now();
  try {
    await main();
    await runCleanups();
    if (interrupted) exitInterrupted();
    printTotals(start);
  } catch (e) {
    await runCleanups();
    // An interrupted command fails too; the signal line already said why.
    if (interrupted) exitInterrupted();
    // Our own messages show a value's newline escaped (it may be the cause); a tool's output, its first line.
    if (e instanceof BuildError || e instanceof ProcessOutput) error(e instanceof BuildError ? showText(e.message) : errorMessage(e).split('\n')[0]!);
    else reportBug(e);
    process.exitCode = 1;
  }
}

// ---- settings table -------------------------------------------------------

export type Parser<T> = (raw: string, name: string) => T;

export interface SettingSpec<T> {
  /** Environment variable, e.g. AGENT_INIT. */
  env?: string;
  /** Option letter, e.g. 'r' for `-r DIR`; a boolean option when `parse` is `flag`. */
  flag?: string;
  /** Value when neither the option nor a non-empty variable is given. */
  default: T;
  parse: Parser<T>;
  help: string;
  /** Name of the option's value in the help text, e.g. DIR for `-r DIR`. */
  arg?: string;
  /**
   * Whether the variable enters a build container's run (containerEnv):
   * 'always' (an unset one as empty, as the shell original passes it) or
   * 'set' (only with a value). Without it, it stays outside.
   */
  container?: 'always' | 'set';
}

/** `-x` for an option letter, `--name` for a long option. */
export function optionName(flag: string): string {
  return flag.length > 1 ? `--${flag}` : `-${flag}`;
}

export type Settings<S> = { [K in keyof S]: S[K] extends SettingSpec<infer T> ? T : never };

export const text: Parser<string> = (raw) => raw;

export const yesNo: Parser<'yes' | 'no'> = (raw, name) =>
  raw === 'yes' || raw === 'no' ? raw : die(`${name}=${raw} is not valid: use yes or no`);

/** Shell-style boolean: any non-empty value other than "no"/"false"/"0" is true. */
export const truthy: Parser<boolean> = isOn;

/**
 * A value that becomes part of paths and file names (OS_VERSION, AGENT_BIN,
 * LIBC...): one name of [A-Za-z0-9._+-], not starting with '.' or '-', so
 * never '..', a path or an option.
 */
export function plainName(
  /** What the value names, e.g. 'the agent binary in usr/bin'. */
  what: string,
): Parser<string> {
  return (raw, name) =>
    /^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,199}$/.test(raw)
      ? raw
      : die(`${name}=${raw} is not valid: it names ${what}, so give one name of letters, digits, '.', '_', '+' and '-' (at most 200, not starting with '.' or '-'; no '/')`);
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  return (raw, name) => {
    if (!/^\d+$/.test(raw)) die(`${name}=${raw} is not a whole number: give a number from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) die(`${name}=${raw} is out of range: give a number from ${min} to ${max}`);
    return n;
  };
}

/**
 * SOURCE_DATE_EPOCH, read the same by every script: the latest time every
 * output can hold is newc cpio's unsigned 32-bit mtime (2106-02-07), so a
 * rootfs built with a later one could not be packed.
 */
const MAX_SOURCE_DATE_EPOCH = 0xffffffff;
export const sourceDateEpoch: Parser<number> = integer(0, MAX_SOURCE_DATE_EPOCH);

export function oneOf<T extends string>(...choices: T[]): Parser<T> {
  return (raw, name) =>
    (choices as string[]).includes(raw) ? (raw as T) : die(`${name}=${raw} is not valid: use one of ${choices.join(', ')}`);
}

/**
 * Resolve a settings table: option beats environment beats default. An empty
 * environment variable counts as unset (as `${VAR:-default}` in the shell
 * original); an option given with an empty value is passed to the parser.
 */
export function resolveSettings<S extends Record<string, SettingSpec<any>>>(
  specs: S,
  env: NodeJS.ProcessEnv,
  options: Record<string, unknown> = {},
): Settings<S> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const fromFlag = spec.flag !== undefined ? options[spec.flag] : undefined;
    if (fromFlag !== undefined && fromFlag !== false) {
      out[key] = spec.parse(String(fromFlag), optionName(spec.flag!));
    } else if (spec.env && env[spec.env]) {
      out[key] = spec.parse(env[spec.env]!, spec.env);
    } else {
      out[key] = spec.default;
    }
  }
  return out as Settings<S>;
}

/** A setting's value as the shell original would see it in its variable. */
export function asVariable(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'true' : '';
  return String(value ?? '');
}

/** The variables a build container's run gets, from the table's `container` marks and the resolved values. */
export function containerEnv(specs: Record<string, SettingSpec<any>>, values: Record<string, unknown>): [string, string][] {
  const env: [string, string][] = [];
  for (const [key, spec] of Object.entries(specs)) {
    if (!spec.env || !spec.container) continue;
    const value = asVariable(values[key]);
    if (spec.container === 'always' || value !== '') env.push([spec.env, value]);
  }
  return env;
}

/** Option letters that take a value, for minimist's `string` list. */
export function valueFlags(specs: Record<string, SettingSpec<any>>): string[] {
  return Object.values(specs).flatMap((s) => (s.flag && s.parse !== truthy ? [s.flag] : []));
}

/** The name column of -h: `-r DIR, ROOTFS_DIR`; an option that takes a value always shows a placeholder. */
export function settingName(spec: SettingSpec<any>): string {
  const arg = spec.arg ?? (spec.parse === truthy ? '' : 'VALUE');
  const option = spec.flag ? `${optionName(spec.flag)}${arg ? ` ${arg}` : ''}` : '';
  return [option, spec.env ?? ''].filter(Boolean).join(', ');
}

/** Usage lines for the options and environment variables of a table. */
export function describeSettings(
  specs: Record<string, SettingSpec<any>>,
  /** Other tables printed in the same help, to share one description column. */
  ...alignWith: Record<string, SettingSpec<any>>[]
): string {
  const entries = Object.values(specs);
  // The widest name sets the column, so no name runs into its description.
  const names = [specs, ...alignWith].flatMap((t) => Object.values(t).map(settingName));
  const width = Math.max(28, ...names.map((n) => n.length + 1));
  return entries.map((spec) => {
    const dflt = spec.default === undefined || spec.default === '' || spec.default === false ? '' : ` (default: ${String(spec.default)})`;
    return `  ${settingName(spec).padEnd(width)} ${spec.help}${dflt}`;
  }).join('\n');
}

/** Reject option letters that are not in the table. */
export function rejectUnknownOptions(options: Record<string, unknown>, known: string[]): void {
  for (const key of Object.keys(options)) {
    if (key !== '_' && !known.includes(key)) die(`unknown option ${optionName(key)}: see -h for the options`);
  }
}
