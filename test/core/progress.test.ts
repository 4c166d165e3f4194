// tier: unit
// Progress of long steps: a live line on a colour terminal, plain lines
// (every 10 s, no escape codes) otherwise, nothing left when the step ends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PLAIN_EVERY_MS, formatElapsed, progressText, setProgressForm, setProgressOutput, startProgress } from '../../lib/core/progress.ts';
import { configureOutput, resolveSettings } from '../../lib/core/cli.ts';
import { outputSettings } from '../../lib/core/shared-settings.ts';

function fakeOut(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, columns: 100, writes, write: (t: string) => writes.push(t) };
}

/**
 * A fake clock for Date.now and setInterval (all progress.ts uses): `sleep`
 * moves it on and fires the due ticks in order, so the 10 s of the plain
 * lines take no real time.
 */
const clock = { now: 0, timers: new Map<number, { due: number; every: number; fn: () => void }>(), next: 1 };
const real = { now: Date.now, setInterval: globalThis.setInterval, clearInterval: globalThis.clearInterval };
test.before.each(() => {
  clock.now = real.now();
  clock.timers.clear();
  Date.now = () => clock.now;
  globalThis.setInterval = ((fn: () => void, every: number) => {
    const id = clock.next++;
    clock.timers.set(id, { due: clock.now + every, every, fn });
    return { unref: () => {}, [Symbol.toPrimitive]: () => id };
  }) as unknown as typeof setInterval;
  globalThis.clearInterval = ((t?: unknown) => {
    if (t !== undefined) clock.timers.delete(Number(t));
  }) as typeof clearInterval;
});
test.after.each(() => {
  Date.now = real.now;
  globalThis.setInterval = real.setInterval;
  globalThis.clearInterval = real.clearInterval;
});
async function sleep(ms: number): Promise<void> {
  const end = clock.now + ms;
  for (;;) {
    const due = [...clock.timers.values()].filter((t) => t.due <= end).sort((a, b) => a.due - b.due)[0];
    if (!due) break;
    clock.now = due.due;
    due.due += due.every;
    due.fn();
  }
  clock.now = end;
}

test('elapsed time and nested steps read well', async () => {
  assert.is(formatElapsed(9_900), '9 s');
  assert.is(formatElapsed(125_000), '2 min 05 s');
  setProgressOutput(fakeOut(false));
  const outer = startProgress('Building the rootfs');
  const inner = startProgress('mmdebstrap bookworm');
  assert.match(progressText(), /^mmdebstrap bookworm: 0 s \(Building the rootfs: 0 s\)$/);
  inner();
  assert.match(progressText(), /^Building the rootfs: 0 s$/);
  outer();
  assert.is(progressText(), '');
});

test('on a terminal: a live line redrawn every second, erased at the end', async () => {
  const out = { ...fakeOut(true), columns: 0 }; // a terminal of unknown size (script, some CI)
  setProgressOutput(out);
  // DEBUG=no is off, as every yes/no variable (it once turned the live line off).
  configureOutput(resolveSettings(outputSettings, { DEBUG: 'no', TERM: 'xterm' }));
  const stop = startProgress('Filling the ext4 root partition');
  await sleep(2300);
  stop();
  const live = out.writes.filter((w) => w.includes('Filling'));
  assert.ok(live.length >= 2, `redrawn: ${JSON.stringify(out.writes)}`);
  assert.ok(live.every((w) => w.startsWith('\r\x1b[2K') && !w.includes('\n')), 'one line, redrawn in place');
  assert.match(live.at(-1)!, /Filling the ext4 root partition: [12] s/);
  assert.is(out.writes.at(-1), '\r\x1b[2K', 'erased when the step ends');
});

test('TERM=dumb or DEBUG on a terminal: no live line (after a second, nothing drawn)', async () => {
  for (const env of [{ TERM: 'dumb' }, { DEBUG: '1' }]) {
    const out = fakeOut(true);
    setProgressOutput(out);
    configureOutput(resolveSettings(outputSettings, env));
    const stop = startProgress('mmdebstrap bookworm');
    await sleep(1300);
    stop();
    assert.equal(out.writes, [], JSON.stringify(env));
  }
});

test('NO_COLOR on a terminal, or a file: plain lines every 10 s, no escape codes', async () => {
  for (const [out, env] of [[fakeOut(true), { NO_COLOR: '1' }], [fakeOut(false), {}]] as const) {
    setProgressOutput(out);
    configureOutput(resolveSettings(outputSettings, env));
    const stop = startProgress('mmdebstrap bookworm');
    await sleep(PLAIN_EVERY_MS + 300);
    stop();
    assert.equal(out.writes, ['INFO: … mmdebstrap bookworm: 10 s, still running\n']);
  }
  setProgressOutput(process.stdout);
  setProgressForm({ debug: false, plain: false });
});

test.run();
