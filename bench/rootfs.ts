// Benchmark: our Debian rootfs build (rootfs.ts, mmdebstrap when installed)
// against upstream's method, plain `debootstrap --variant=minbase` of the
// same package set, measured in the same run. Prints the time ratios of our
// first build (empty package cache) and of a second one (cache filled), both
// with the defaults (BUILD_IN_RAM=auto). With --runs N the three builds are
// repeated in turn N times (each round with an empty cache first) and the
// medians compared, which evens out a noisy machine.
// Usage: npm run bench:rootfs [-- --runs N]   (root; needs the Debian mirror)
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { loadDistro } from '../lib/rootfs/distro.ts';
import { $ } from '../lib/core/exec.ts';
import { formatSeconds, info } from '../lib/core/log.ts';
import { removeTree } from '../lib/core/safe-paths.ts';
import { testAgentBinary } from '../test/helpers/agent.ts';
import { repoRoot, runRootfs } from '../test/helpers/rootfs-fixture.ts';
import { median, seconds } from './timing.ts';

/** Milliseconds of `fn`, announced before and after. */
async function timed(what: string, fn: () => Promise<void>): Promise<number> {
  info(`${what}...`);
  const ms = (await seconds(fn)) * 1000;
  info(`${what}: ${formatSeconds(ms)}`);
  return ms;
}

async function sizeMiB(dir: string): Promise<number> {
  return Math.round(Number((await $`du -sxm ${dir}`).stdout.split('\t')[0]));
}

const runs = Number(minimist(process.argv.slice(2), { string: ['runs'] }).runs ?? 1);
const scratch = mkdtempSync('/var/tmp/osbuilder-bench-');
try {
  const debian = await loadDistro('debian', 'x86_64');
  const packages = debian.packages({ agentInit: 'no', seccomp: 'yes', arch: 'x86_64' }); // rootfs.ts's defaults
  const agent = await testAgentBinary();

  const debootstrap = async () => {
    const dir = join(scratch, 'debootstrap');
    const ms = await timed(`debootstrap --variant=minbase --include=${packages.join(',')}`, async () => {
      await $`debootstrap --variant=minbase --include=${packages.join(',')} ${debian.osVersion} ${dir}`;
    });
    const size = await sizeMiB(dir);
    await removeTree(dir);
    return { ms, size };
  };
  const ours = async (what: string, packageCache: string) => {
    const dir = join(scratch, 'ours');
    const ms = await timed(`tsx rootfs.ts debian, ${what} (AGENT_SOURCE_BIN=test agent)`, async () => {
      const out = await runRootfs(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: agent, PACKAGE_CACHE_DIR: packageCache });
      if (out.exitCode !== 0) throw new Error(`rootfs.ts failed: ${out.stderr}`);
    });
    const size = await sizeMiB(dir);
    await removeTree(dir);
    return { ms, size };
  };
  type Run = { ms: number; size: number };
  const rounds: { baseline: Run; cold: Run; warm: Run }[] = [];
  for (let i = 0; i < runs; i++) {
    const packageCache = join(scratch, `packages-${i}`);
    rounds.push({ baseline: await debootstrap(), cold: await ours('empty package cache', packageCache), warm: await ours('package cache filled', packageCache) });
  }
  const [baseline, cold, warm] = (['baseline', 'cold', 'warm'] as const).map((k) => median(rounds.map((r) => r[k].ms)));
  const [baselineSize, oursSize] = [rounds[0]!.baseline.size, rounds[0]!.cold.size];

  console.log(`\nrootfs build, debian ${debian.osVersion} (${packages.join(' ')}), in ${repoRoot}, ${runs} round(s), medians`);
  console.log(`  baseline debootstrap minbase:      ${formatSeconds(baseline!)}, ${baselineSize} MiB`);
  console.log(`  rootfs.ts, empty package cache:    ${formatSeconds(cold!)}, ${oursSize} MiB`);
  console.log(`  rootfs.ts, package cache filled:   ${formatSeconds(warm!)}`);
  console.log(`  time ratio ours/baseline: ${(cold! / baseline!).toFixed(2)} cold, ${(warm! / baseline!).toFixed(2)} warm (target <= 0.45)`);
  console.log(`  size ratio ours/baseline: ${(oursSize / baselineSize).toFixed(2)}`);
} finally {
  await removeTree(join(scratch, 'debootstrap'));
  await removeTree(join(scratch, 'ours'));
  rmSync(scratch, { recursive: true, force: true });
}
