// Log lines with the upstream osbuilder prefixes: INFO on stdout; WARNING,
// ERROR and [OK] on stderr. Long steps report their duration.

export class BuildError extends Error {
  override name = 'BuildError';
}

export function info(msg: string): void {
  process.stdout.write(`INFO: ${msg}\n`);
}

export function warn(msg: string): void {
  process.stderr.write(`WARNING: ${msg}\n`);
}

export function ok(msg: string): void {
  process.stderr.write(`[OK] ${msg}\n`);
}

export function error(msg: string): void {
  process.stderr.write(`ERROR: ${msg}\n`);
}

/** Abort the build: the entry point prints one `ERROR:` line and exits 1. */
export function die(msg: string): never {
  throw new BuildError(msg);
}

export function debugEnabled(): boolean {
  return !!process.env.DEBUG && process.env.DEBUG !== '0' && process.env.DEBUG !== 'false';
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

const HEARTBEAT_MS = 30_000;

/**
 * Run a long step: announce it, print a heartbeat while it runs, and report
 * its duration when done.
 */
export async function step<T>(title: string, fn: () => Promise<T>): Promise<T> {
  info(`${title}...`);
  const start = Date.now();
  const beat = setInterval(
    () => info(`${title}: still running (${formatSeconds(Date.now() - start)})`),
    HEARTBEAT_MS,
  );
  beat.unref();
  try {
    const result = await fn();
    ok(`${title} (${formatSeconds(Date.now() - start)})`);
    return result;
  } finally {
    clearInterval(beat);
  }
}
