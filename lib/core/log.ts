// Log lines with the upstream osbuilder prefixes: INFO on stdout; WARNING,
// ERROR and [OK] on stderr. Long steps show progress and their duration.
import { clearLiveLine, startProgress } from './progress.ts';

export class BuildError extends Error {
  override name = 'BuildError';
}

export function info(msg: string): void {
  clearLiveLine();
  process.stdout.write(`INFO: ${msg}\n`);
}

export function warn(msg: string): void {
  clearLiveLine();
  process.stderr.write(`WARNING: ${msg}\n`);
}

export function ok(msg: string): void {
  clearLiveLine();
  process.stderr.write(`[OK] ${msg}\n`);
}

export function error(msg: string): void {
  clearLiveLine();
  process.stderr.write(`ERROR: ${msg}\n`);
}

/** Abort the build: the entry point prints one `ERROR:` line and exits 1. */
export function die(msg: string): never {
  throw new BuildError(msg);
}


export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

interface StepTime {
  title: string;
  /** When it started (Date.now()). */
  started: number;
  ms: number;
}

/** Every step finished in this process, in order (for totals at the end). */
const stepTimes: StepTime[] = [];

/**
 * Run a long step: announce it, show progress while it runs (see
 * progress.ts), and report its duration when done.
 */
export async function step<T>(
  title: string,
  fn: () => Promise<T>,
  /** progress: false when fn runs a script that shows its own progress on the same output. */
  opts: { progress?: boolean } = {},
): Promise<T> {
  info(`${title}...`);
  const start = Date.now();
  const stop = opts.progress === false ? () => {} : startProgress(title);
  try {
    const result = await fn();
    stop();
    const ms = Date.now() - start;
    stepTimes.push({ title, started: start, ms });
    ok(`${title} (${formatSeconds(ms)})`);
    return result;
  } finally {
    stop();
  }
}

/** One line with the total time and each step's since `sinceMs` (a run's start), when there were several steps. */
export function printTotals(sinceMs: number): void {
  const steps = stepTimes.filter((t) => t.started >= sinceMs);
  if (steps.length < 2) return;
  const parts = steps.map((t) => `${t.title.length > 48 ? `${t.title.slice(0, 47)}…` : t.title} ${formatSeconds(t.ms)}`);
  info(`total ${formatSeconds(Date.now() - sinceMs)}: ${parts.join('; ')}`);
}
