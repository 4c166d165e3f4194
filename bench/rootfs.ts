// Benchmark: our Debian rootfs build (rootfs.ts, mmdebstrap when installed)
// against upstream's method, plain `debootstrap --variant=minbase` of the
// same package set, measured in the same run. Prints the time ratios of our
// first build (empty package cache) and of a second one (cache filled), both
// with the defaults (BUILD_IN_RAM=auto).
// Usage: npm run bench:rootfs   (root; needs the Debian mirror)
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadDistro } from '../lib/distro.ts';
import { $ } from '../lib/exec.ts';
import { formatSeconds, info } from '../lib/log.ts';
import { removeTree } from '../lib/rootfs-dir.ts';
import { testAgentBinary } from '../test/helpers/agent.ts';
import { repoRoot, runRootfs } from '../test/helpers/rootfs-fixture.ts';

async function timed(what: string, fn: () => Promise<void>): Promise<number> {
  info(`${what}...`);
  const start = Date.now();
  await fn();
  const ms = Date.now() - start;
  info(`${what}: ${formatSeconds(ms)}`);
  return ms;
}

async function sizeMiB(dir: string): Promise<number> {
  return Math.round(Number((await $`du -sxm ${dir}`).stdout.split('\t')[0]));
}

const scratch = mkdtempSync('/var/tmp/osbuilder-bench-');
try {
  const debian = await loadDistro('debian', 'x86_64');
  const packages = debian.packages({ agentInit: 'no', seccomp: 'no', arch: 'x86_64' });
  const agent = await testAgentBinary();

  const baselineDir = join(scratch, 'debootstrap');
  const baseline = await timed(`debootstrap --variant=minbase --include=${packages.join(',')}`, async () => {
    await $`debootstrap --variant=minbase --include=${packages.join(',')} ${debian.osVersion} ${baselineDir}`;
  });
  const baselineSize = await sizeMiB(baselineDir);
  await removeTree(baselineDir);

  const packageCache = join(scratch, 'packages');
  const build = async (what: string) => {
    const dir = join(scratch, what);
    const ms = await timed(`tsx rootfs.ts debian, ${what} (AGENT_SOURCE_BIN=test agent)`, async () => {
      const out = await runRootfs(['-r', dir, 'debian'], { AGENT_SOURCE_BIN: agent, PACKAGE_CACHE_DIR: packageCache });
      if (out.exitCode !== 0) throw new Error(`rootfs.ts failed: ${out.stderr}`);
    });
    const size = await sizeMiB(dir);
    await removeTree(dir);
    return { ms, size };
  };
  const cold = await build('empty package cache');
  const warm = await build('package cache filled');

  console.log(`\nrootfs build, debian ${debian.osVersion} (${packages.join(' ')}), in ${repoRoot}`);
  console.log(`  baseline debootstrap minbase:      ${formatSeconds(baseline)}, ${baselineSize} MiB`);
  console.log(`  rootfs.ts, empty package cache:    ${formatSeconds(cold.ms)}, ${cold.size} MiB`);
  console.log(`  rootfs.ts, package cache filled:   ${formatSeconds(warm.ms)}, ${warm.size} MiB`);
  console.log(`  time ratio ours/baseline: ${(cold.ms / baseline).toFixed(2)} cold, ${(warm.ms / baseline).toFixed(2)} warm (target <= 0.45)`);
  console.log(`  size ratio ours/baseline: ${(cold.size / baselineSize).toFixed(2)}`);
} finally {
  await removeTree(join(scratch, 'debootstrap'));
  rmSync(scratch, { recursive: true, force: true });
}
