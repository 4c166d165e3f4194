// The one-line outcome of a boot check: PASS with the time to the marker, or
// FAIL with why the agent never came up.

export interface BootEnd {
  /** The console line that made the run stop early (emergency mode, panic...). */
  fatalLine?: string;
  /** The VM was killed at the timeout. */
  timedOut: boolean;
  exitCode: number | null;
  stderr: string;
  timeoutSeconds: number;
}

export function failureReason(end: BootEnd): string {
  if (end.fatalLine) return `the guest failed: "${end.fatalLine}"`;
  if (end.timedOut) return `no marker within ${end.timeoutSeconds} s (the VM was stopped at the timeout; raise it with -t)`;
  const lastErr = end.stderr.split('\n').filter(Boolean).at(-1);
  if (end.exitCode !== 0) return `QEMU exited with code ${end.exitCode}${lastErr ? `: ${lastErr}` : ''}`;
  return 'the guest powered off without printing the marker (was the agent started?)';
}

/** "PASS: ..." or "FAIL: ..." for a boot result. */
export function bootVerdict(r: { markerSeen: boolean; seconds: number; reason?: string }, marker: string): string {
  return r.markerSeen
    ? `PASS: the agent came up ${r.seconds.toFixed(1)} s after QEMU started ("${marker}" seen)`
    : `FAIL: ${r.reason ?? 'the agent did not come up'}`;
}

/** Guest console lines that look alarming but are expected in a Kata guest, with why. */
const KNOWN_NOISE: [RegExp, string][] = [
  [/Failed to connect stdout to the journal socket/,
    'the "Failed to connect stdout to the journal socket" lines are harmless: rootfs.ts -d leaves out systemd-journald ' +
    '(as upstream osbuilder does), so each service writes to the console instead'],
];

/** One explanation for each kind of known-harmless noise on this console. */
export function noiseNotes(console: string): string[] {
  return KNOWN_NOISE.filter(([re]) => re.test(console)).map(([, why]) => why);
}
