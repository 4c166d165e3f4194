// tier: unit
// A signal stops the build's commands before the cleanups run: none started
// after it (it never reached them), a running one gets it even when only our
// pid was signalled, and cleanup commands still run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { processTree } from '../../lib/core/exec.ts';
import { join } from 'node:path';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const dir = mkdtempSync('/tmp/osbuilder-interrupt-');
const script = join(dir, 'build.mts'); // ESM outside our package.json's "type"
writeFileSync(
  script,
  `import { writeFileSync } from 'node:fs';
import { onCleanup, runMain } from '${repoRoot}lib/core/cli.ts';
import { $ } from '${repoRoot}lib/core/exec.ts';
const [out, mode] = process.argv.slice(2);
await runMain(async () => {
  onCleanup(() => $\`sleep 0.5; touch \${out}/cleanup-ran\`); // takes a while, as removing a tree does
  if (mode === 'between') {
    console.log('ready');
    const until = Date.now() + 1500;
    while (Date.now() < until); // a synchronous step: the signal is handled after it
    await new Promise((resolve) => setTimeout(resolve, 100));
    await $\`sleep 2; touch \${out}/started-after-signal\`;
  } else if (mode === 'worker') {
    // As mmdebstrap: the command catches the signal and waits on for its worker, which does the writing.
    setTimeout(() => console.log('ready'), 300);
    await $\`trap 'echo caught' TERM; (sleep 2; touch \${out}/worker-finished) & w=$!; wait $w; wait $w\`;
  } else {
    setTimeout(() => console.log('ready'), 300);
    await $\`sleep 2; touch \${out}/finished\`;
  }
  writeFileSync(\`\${out}/went-on\`, '');
});
`,
);

/** The script in its own process; SIGTERM to its pid alone (as `kill PID`, not Ctrl-C) once it says ready. */
function interrupted(mode: string): Promise<{ code: number | null; stderr: string; ms: number; files: string[] }> {
  const out = mkdtempSync(join(dir, `${mode}-`));
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', join(repoRoot, 'node_modules/tsx/dist/loader.mjs'), script, out, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.once('data', () => child.kill('SIGTERM'));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const ms = Date.now() - started;
      // An orphaned command would write its file after we exited: give it the time.
      setTimeout(() => resolve({ code, stderr, ms, files: readdirSync(out).sort() }), 2500);
    }),
  );
}

/** Both cases run side by side (each mostly waits), started by the first test that needs one. */
let runs: ReturnType<typeof interrupted>[] | undefined;
const run = (i: 0 | 1 | 2) => (runs ??= [interrupted('between'), interrupted('running'), interrupted('worker')])[i]!;

test('a command the build starts after the signal dies at once: the cleanup runs when the build has stopped', async () => {
  const r = await run(0);
  assert.is(r.code, 143, r.stderr);
  assert.equal(r.files, ['cleanup-ran']);
  assert.equal(r.stderr.trim().split('\n'), ['ERROR: interrupted by SIGTERM, cleaning up']);
});

test('a running command gets the signal though only our pid had it: nothing writes after the exit', async () => {
  const r = await run(1);
  assert.is(r.code, 143, r.stderr);
  assert.equal(r.files, ['cleanup-ran']);
  assert.ok(r.ms < 12_000, `exited after ${r.ms} ms, not when the 15 s fallback ended`);
  assert.equal(r.stderr.trim().split('\n'), ['ERROR: interrupted by SIGTERM, cleaning up']);
});

test("the processes a command started get the signal too: a worker it waits for (mmdebstrap's) writes nothing after it", async () => {
  const r = await run(2);
  assert.is(r.code, 143, r.stderr);
  assert.equal(r.files, ['cleanup-ran']);
  assert.ok(r.ms < 12_000, `exited after ${r.ms} ms, not when the 15 s fallback ended`);
});

test('processTree: a pid and every process below it, from the parent pids in /proc', () => {
  const proc = mkdtempSync(join(dir, 'proc-'));
  const stat = (pid: number, ppid: number, comm = 'sh') => {
    mkdirSync(join(proc, String(pid)));
    writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1\n`);
  };
  stat(1, 0);
  stat(10, 1);
  stat(11, 10, 'odd) name (x');
  stat(12, 11);
  stat(20, 1);
  mkdirSync(join(proc, 'self'));
  assert.equal(processTree(10, proc).sort(), [10, 11, 12]);
  assert.equal(processTree(20, proc), [20]);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
