// Bounded retries of downloads that failed for a reason that passes: a
// mirror mid-sync, a dropped connection, a busy server. What counts as
// transient is read from the tool's own output; anything else (a package
// that does not exist, a bad signature) fails at the first try. zx's `retry`
// retries every error and logs only in verbose mode, hence this one.
import { ProcessOutput } from './exec.ts';
import { warn } from './log.ts';

/** How many times a download step runs at most. */
export const DOWNLOAD_TRIES = 3;

/** Seconds to wait before retry `n` (2, 3, ...): 5, 15, ... */
export function retryDelaySeconds(n: number): number {
  return 5 * 3 ** (n - 2);
}

/** Lines of apt, mmdebstrap/debootstrap, dnf, apk, curl and the engines' pulls that say a download failed for a passing reason. */
const TRANSIENT_PATTERNS: RegExp[] = [
  // apt (mmdebstrap, apt-get download/update)
  /Hash Sum mismatch/i,
  /File has unexpected size/i,
  /Mirror sync in progress/i,
  /Temporary failure resolving/i,
  /Connection timed out/i,
  /Could not connect to/i,
  /Unable to connect to/i,
  /Failed to fetch/i,
  /Undetermined Error/i,
  /\b5\d\d\s+(?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)/i,
  // debootstrap
  /Couldn't download (?:packages|package|release)/i,
  // dnf / librepo
  /Curl error/i,
  /Cannot download/i,
  /All mirrors were tried/i,
  /Status code: 5\d\d/i,
  // apk
  /network error/i,
  /temporary error/i,
  // curl
  /Could not resolve host/i,
  /Failed to connect to/i,
  /Connection reset by peer/i,
  /Operation timed out/i,
  /returned error: 5\d\d/i,
  // container engines pulling an image
  /Temporary failure in name resolution/i,
  /TLS handshake timeout/i,
  /i\/o timeout/i,
  /request canceled while waiting for connection/i,
];

/** The last line of `output` that marks a transient download failure, or undefined. */
export function transientLine(output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.reverse().find((l) => TRANSIENT_PATTERNS.some((p) => p.test(l)));
}

/** The transient line of a failed command, or undefined for any other failure (a signal: the build is being stopped). */
function transientFailure(e: unknown): string | undefined {
  if (e instanceof ProcessOutput) return e.signal ? undefined : transientLine(`${e.stdout}\n${e.stderr}`);
  if (e instanceof Error) return transientLine(e.message);
  return undefined;
}

interface RetryOptions {
  tries?: number;
  /** Run before each retry, e.g. to empty the target the failed try wrote to. */
  beforeRetry?: () => Promise<void> | void;
  /** Seconds before retry n; default retryDelaySeconds. */
  delaySeconds?: (n: number) => number;
}

/**
 * Run `fn`, again after a transient download failure, up to DOWNLOAD_TRIES
 * times with a growing delay; each retry is one WARNING naming `what` and
 * the tool's line. A stop signal during the wait ends the retries.
 */
export async function withDownloadRetries<T>(what: string, fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const tries = opts.tries ?? DOWNLOAD_TRIES;
  const delaySeconds = opts.delaySeconds ?? retryDelaySeconds;
  for (let n = 1; ; n++) {
    try {
      return await fn();
    } catch (e) {
      const line = transientFailure(e);
      if (!line || n >= tries) throw e;
      const seconds = delaySeconds(n + 1);
      warn(`${what} failed with a transient download error (${line}); retry ${n + 1} of ${tries} in ${seconds} s`);
      if (await stoppedDuring(seconds * 1000)) throw e;
      await opts.beforeRetry?.();
    }
  }
}

/** Wait `ms`; true when SIGINT or SIGTERM arrived meanwhile. */
function stoppedDuring(ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (stopped: boolean) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(stopped);
    };
    const onSignal = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
