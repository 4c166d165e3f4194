// Benchmark: the daily loop, end to end through make. A full Debian build
// and image (`make rootfs-debian image-debian`, empty distro-tree cache,
// package cache filled) against the rebuild after an agent change (the test
// agent rebuilt with other flags), measured in the same run and printed as a
// ratio. With --runs N both are repeated N times and the medians compared.
// Usage: npm run bench:rebuild [-- --runs N]   (root; needs the Debian mirror
// for the first package download)
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { $ } from '../lib/core/exec.ts';
import { formatSeconds, info } from '../lib/core/log.ts';
import { removeTree } from '../lib/core/safe-paths.ts';
import { rebuiltTestAgentBinary, testAgentBinary } from '../test/helpers/agent.ts';
import { cacheRoot } from '../test/helpers/cache.ts';
import { cleanEnv, repoRoot } from '../test/helpers/rootfs-fixture.ts';
import { median, seconds, totalsIn } from './timing.ts';

const runs = Number(minimist(process.argv.slice(2), { string: ['runs'] }).runs ?? 1);
const scratch = mkdtempSync('/var/tmp/osbuilder-bench-rebuild-');
const agent = join(scratch, 'kata-agent');

/** The parts of a run: rootfs.ts's and image.ts's step totals, the cache check, and the rest (make, start-ups). */
type Parts = Map<string, number>;

function partsOf(stdout: string, wall: number): Parts {
  const [rootfs, image] = totalsIn(stdout);
  const parts: Parts = new Map();
  const check = /^INFO: Checked the copy against the entry's listing .* in ([\d.]+) s$/m.exec(stdout);
  for (const [script, t] of [['rootfs.ts', rootfs], ['image.ts', image]] as const) {
    if (!t) continue;
    for (const [step, sec] of t.steps) parts.set(`${script}: ${step.replace(/ [0-9a-f]{12} to .*$/, '')}`, sec);
    const inSteps = [...t.steps.values()].reduce((a, b) => a + b, 0) + (script === 'rootfs.ts' && check ? Number(check[1]) : 0);
    if (script === 'rootfs.ts' && check) parts.set('rootfs.ts: checking the linked tree against the entry listing', Number(check[1]));
    parts.set(`${script}: the rest of its own run, outside its timed steps`, Math.max(0, t.total - inSteps));
  }
  const counted = (rootfs?.total ?? 0) + (image?.total ?? 0);
  parts.set('make and the two scripts starting (tsx loader, module loading)', Math.max(0, wall - counted));
  return parts;
}

/** `make rootfs-debian image-debian` into `dest`; seconds and their parts. */
async function make(what: string, dest: string, trees: string): Promise<{ s: number; parts: Parts }> {
  const env = { ...cleanEnv(), AGENT_SOURCE_BIN: agent, PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), DISTRO_CACHE_DIR: trees };
  info(`${what}...`);
  let stdout = '';
  const s = await seconds(async () => {
    const out = await $({ cwd: repoRoot, env, nothrow: true })`make rootfs-debian image-debian ROOTFS_BUILD_DEST=${dest} IMAGES_BUILD_DEST=${dest}`;
    if (out.exitCode !== 0) throw new Error(`make failed:\n${out.stdout}\n${out.stderr}`);
    stdout = out.stdout;
  });
  info(`${what}: ${formatSeconds(s * 1000)}`);
  return { s, parts: partsOf(stdout, s) };
}

try {
  const [first, second] = [await testAgentBinary(), await rebuiltTestAgentBinary()];
  // Fill the package cache once, so the full build measures building, not downloading.
  const warm = join(scratch, 'warm');
  mkdirSync(warm);
  copyFileSync(first, agent);
  await make('warming the package cache (not measured)', warm, 'no');
  await removeTree(warm);

  const rounds: { full: number; agentOnly: number; parts: Parts }[] = [];
  for (let i = 0; i < runs; i++) {
    const dest = join(scratch, `round-${i}`);
    const trees = join(scratch, `trees-${i}`);
    mkdirSync(dest);
    copyFileSync(first, agent);
    const full = (await make('full build + image (empty distro-tree cache)', dest, trees)).s;
    copyFileSync(second, agent);
    const { s: agentOnly, parts } = await make('agent-only rebuild + image', dest, trees);
    rounds.push({ full, agentOnly, parts });
    await removeTree(dest);
    await removeTree(trees);
  }
  const full = median(rounds.map((r) => r.full))!;
  const agentOnly = median(rounds.map((r) => r.agentOnly))!;
  console.log(`\nmake rootfs-debian image-debian, ${runs} round(s), medians`);
  console.log(`  full build + image:          ${formatSeconds(full * 1000)}`);
  console.log(`  agent-only rebuild + image:  ${formatSeconds(agentOnly * 1000)}`);
  console.log('  where the agent-only rebuild goes (medians):');
  for (const part of rounds[0]!.parts.keys()) console.log(`    ${part}: ${median(rounds.map((r) => r.parts.get(part) ?? 0)).toFixed(2)} s`);
  console.log(`  time ratio agent-only/full: ${(agentOnly / full).toFixed(3)} (target <= 0.1)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
