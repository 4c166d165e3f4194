// Tables of bad input that must each end in one ERROR with nothing written:
// the cases run two at a time (each is mostly a tsx start-up), and each
// outcome records what changed in the scratch tree and in the host's
// directories while it ran.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';

/** Names, types, sizes and mtimes of everything under `dir` (and of `dir` itself). */
export function snapshot(dir: string, depth = Infinity): string[] {
  const out: string[] = [`${dir} ${statSync(dir).mtimeMs}`];
  const walk = (d: string, level: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      const st = statSync(path, { throwIfNoEntry: false });
      out.push(`${path} ${e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : 'f'} ${st?.size ?? '-'} ${st?.mtimeMs ?? '-'}`);
      if (e.isDirectory() && level < depth) walk(path, level + 1);
    }
  };
  walk(dir, 1);
  return out;
}

// The host directories a wrong path could write to: their entries (a new or
// replaced one shows), and for the big ones only their own mtime (changed by
// any entry created or removed in them).
const HOST_DIRS = ['/etc', '/usr', '/home', '/root'];
const HOST_DIR_TIMES = ['/bin', '/usr/bin', '/usr/sbin', '/var'];
export const hostSnapshot = () => [
  ...HOST_DIRS.flatMap((d) => snapshot(d, 1)),
  ...HOST_DIR_TIMES.map((d) => `${d} ${statSync(d).mtimeMs}`),
];

export interface Outcome { exitCode: number | null; stderr: string; changedHere: string[]; changedHost: string[] }

const diff = (a: string[], b: string[]) => [...b.filter((x) => !a.includes(x)), ...a.filter((x) => !b.includes(x)).map((x) => `gone: ${x}`)];

/** Start every case (two at a time), each outcome with what changed under `parent` and on the host. */
export function runRefusals<C extends { name: string }>(
  cases: C[], parent: string, run: (c: C) => Promise<{ exitCode: number | null; stderr: string }>,
): Map<string, Promise<Outcome>> {
  const here = snapshot(parent);
  const host = hostSnapshot();
  const outcomes = new Map<string, Promise<Outcome>>();
  let running = 0;
  const slots: (() => void)[] = [];
  const acquire = () => (running < 2 ? (running++, Promise.resolve()) : new Promise<void>((r) => slots.push(r)));
  const release = () => (slots.length ? slots.shift()!() : running--);
  for (const c of cases) {
    outcomes.set(c.name, (async () => {
      await acquire();
      try {
        const r = await run(c);
        return { exitCode: r.exitCode, stderr: r.stderr, changedHere: diff(here, snapshot(parent)), changedHost: diff(host, hostSnapshot()) };
      } finally {
        release();
      }
    })());
  }
  return outcomes;
}

/** A non-zero exit, exactly one ERROR line matching `error`, nothing changed here or on the host. */
export function assertRefused(r: Outcome, error: RegExp, linePrefix = true): void {
  assert.ok(r.exitCode !== 0 && r.exitCode !== null, `non-zero exit, got ${r.exitCode}`);
  const errors = r.stderr.split('\n').filter((l) => l.includes('ERROR:'));
  assert.is(errors.length, 1, `exactly one ERROR line, got:\n${r.stderr}`);
  if (linePrefix) assert.ok(errors[0]!.startsWith('ERROR: '), errors[0]);
  assert.match(errors[0]!, error);
  assert.equal(r.changedHere, [], 'nothing changed in the scratch tree');
  assert.equal(r.changedHost, [], 'nothing changed in the host directories');
}
