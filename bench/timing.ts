// What the benchmarks share: wall time of one run, and the median of several.

export async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A script's `INFO: total 1.4 s: Reading the rootfs tree 0.1 s; Filling … 0.6 s` line: its total and steps, seconds. */
export interface Totals { total: number; steps: Map<string, number> }

/** Every `INFO: total` line of `stdout` (one a script run), in order. */
export function totalsIn(stdout: string): Totals[] {
  return stdout.split('\n').filter((l) => l.startsWith('INFO: total ')).map((line) => {
    const m = /^INFO: total ([\d.]+) s: (.*)$/.exec(line);
    const steps = new Map<string, number>();
    for (const s of (m?.[2] ?? '').matchAll(/([^;]+?) ([\d.]+) s(?:;|$)/g)) steps.set(s[1]!.trim(), Number(s[2]));
    return { total: Number(m?.[1] ?? 0), steps };
  });
}
