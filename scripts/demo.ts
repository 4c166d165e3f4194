// The end-to-end demo (`make demo`): build the test agent, a Debian rootfs
// with it (rootfs.ts), a disk image (image.ts), boot the image in QEMU (TCG,
// NVDIMM with DAX as Kata attaches it) and report PASS/FAIL with timings.
// Outputs go to ./out of the project (ignored by git).
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMain, runMain } from '../lib/core/cli.ts';
import { bootGuest } from '../lib/boot/boot.ts';
import { $ } from '../lib/core/exec.ts';
import { die, formatSeconds, step } from '../lib/core/log.ts';
import { bootVerdict, noiseNotes } from '../lib/boot/verdict.ts';
import { removeTree } from '../lib/core/safe-paths.ts';
import { AGENT_MARKER, testAgentBinary } from '../test/helpers/agent.ts';

const repo = new URL('../', import.meta.url).pathname;
const outDir = join(repo, 'out');
const tsx = join(repo, 'node_modules/.bin/tsx');
const CONSOLE_TAIL = 25;

/** A demo step; `ownProgress`: it runs a script that shows its own progress. */
async function timed<T>(title: string, fn: () => Promise<T>, times: [string, number][], ownProgress = false): Promise<T> {
  const start = Date.now();
  const result = await step(title, fn, { progress: !ownProgress });
  times.push([title, Date.now() - start]);
  return result;
}

async function main(): Promise<void> {
  const times: [string, number][] = [];
  mkdirSync(outDir, { recursive: true });
  const rootfs = join(outDir, 'debian_rootfs');
  const image = join(outDir, 'kata-containers.img');
  const version = (await $({ cwd: repo, nothrow: true })`git describe --always --dirty`).stdout.trim() || 'demo';
  const env = { ...process.env, AGENT_INIT: process.env.AGENT_INIT || 'no' };

  const agent = await timed('Building the test agent (test/agent/test-agent.c, static)', testAgentBinary, times);
  await removeTree(rootfs);
  await timed(`Building a Debian rootfs with rootfs.ts (AGENT_INIT=${env.AGENT_INIT})`, async () => {
    await $({ cwd: repo, env: { ...env, AGENT_SOURCE_BIN: agent }, stdio: 'inherit' })`${tsx} rootfs.ts -o ${version} -r ${rootfs} debian`;
  }, times, true);
  await timed('Building the disk image with image.ts', async () => {
    await $({ cwd: repo, env, stdio: 'inherit' })`${tsx} image.ts -o ${image} ${rootfs}`;
  }, times, true);
  const result = await timed('Booting the image in QEMU (TCG, NVDIMM + DAX)', () =>
    bootGuest({ image, media: 'nvdimm', timeoutSeconds: 300 }), times);

  const tail = result.console.trimEnd().split('\n').slice(-CONSOLE_TAIL).join('\n');
  console.log(`\n--- guest console (last ${CONSOLE_TAIL} lines) ---\n${tail}\n---`);
  console.log(`\nimage: ${image} (${(statSync(image).size / 2 ** 20).toFixed(0)} MiB)`);
  for (const [title, ms] of times) console.log(`  ${formatSeconds(ms).padStart(8)}  ${title}`);
  for (const note of noiseNotes(result.console)) console.log(`note: ${note}`);
  console.log(`\n${bootVerdict(result, AGENT_MARKER)}`);
  if (!result.markerSeen) die(`demo failed: ${result.reason}`);
}

if (isMain(import.meta.url)) await runMain(main);
