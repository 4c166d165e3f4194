// Progress of long steps: on a terminal one live line (the step and its
// elapsed time, redrawn every second and erased when the step ends); when
// stdout is a file or a pipe, a plain line every 10 s, so a log shows the
// build is alive. No escape codes unless stdout is a terminal (NO_COLOR and
// TERM=dumb too give plain lines). Hand-written: spinner libraries draw on
// stderr and go silent when it is not a terminal, the opposite of what a log needs.

export const PLAIN_EVERY_MS = 10_000;
const LIVE_EVERY_MS = 1000;

interface ProgressOutput {
  isTTY?: boolean;
  write(text: string): unknown;
}

interface Active {
  title: string;
  start: number;
}

const active: Active[] = [];
let timer: NodeJS.Timeout | undefined;
let liveShown = false;
let out: ProgressOutput = process.stdout;
/** Plain lines even on a terminal: NO_COLOR, TERM=dumb, or DEBUG, which echoes commands between redraws. */
let plainOnly = false;

/** The form progress takes, from the resolved settings (cli.ts configureOutput). */
export function setProgressForm(s: { debug: boolean; plain: boolean }): void {
  plainOnly = s.debug || s.plain;
}

/** For tests: where progress goes. */
export function setProgressOutput(o: ProgressOutput): void {
  out = o;
}

function liveMode(): boolean {
  return !!out.isTTY && !plainOnly;
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** "inner step: 12 s (outer step: 40 s)" for the steps running now. */
export function progressText(now = Date.now()): string {
  const inner = active.at(-1);
  if (!inner) return '';
  const outer = active.length > 1 ? ` (${active[0]!.title}: ${formatElapsed(now - active[0]!.start)})` : '';
  return `${inner.title}: ${formatElapsed(now - inner.start)}${outer}`;
}

/** Erase the live line before other output is written (no-op otherwise). */
export function clearLiveLine(): void {
  if (liveShown) {
    out.write('\r\x1b[2K');
    liveShown = false;
  }
}

function tick(): void {
  if (!active.length) return;
  if (liveMode()) {
    const cols = (out as { columns?: number }).columns || 80; // 0 when the terminal size is unknown
    out.write(`\r\x1b[2K\x1b[2m… ${progressText().slice(0, cols - 3)}\x1b[0m`);
    liveShown = true;
  } else {
    out.write(`INFO: … ${progressText()}, still running\n`);
  }
}

function restartTimer(): void {
  clearInterval(timer);
  timer = undefined;
  if (!active.length) return;
  timer = setInterval(tick, liveMode() ? LIVE_EVERY_MS : PLAIN_EVERY_MS);
  timer.unref();
}

/** Show progress for a step until the returned function is called. */
export function startProgress(title: string): () => void {
  const entry = { title, start: Date.now() };
  active.push(entry);
  restartTimer();
  return () => {
    const i = active.indexOf(entry);
    if (i >= 0) active.splice(i, 1);
    clearLiveLine();
    restartTimer();
  };
}
