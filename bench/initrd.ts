// Benchmark: initrd.ts against upstream's `find . | cpio -H newc -o | gzip -9`
// on the same Debian rootfs (built by rootfs.ts, cached), in the same run.
// Each side runs RUNS times, alternating; the best time of each counts.
// Targets: at most 1/3 of upstream's time, output at most 1% larger.
// Usage: npm run bench:initrd
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../lib/core/exec.ts';
import { info } from '../lib/core/log.ts';
import { debianRootfs, repoRoot } from '../test/helpers/rootfs-fixture.ts';
import { seconds } from './timing.ts';

const RUNS = 2;
const TIME_TARGET = 1 / 3;
const SIZE_TARGET = 1.01;

const rootfs = await debianRootfs({ agentInit: 'no' });
const scratch = mkdtempSync('/var/tmp/osbuilder-bench-initrd-');
try {
  const upstreamOut = join(scratch, 'upstream.img');
  const oursOut = join(scratch, 'ours.img');
  const tsx = join(repoRoot, 'node_modules/.bin/tsx');
  const upstream: number[] = [];
  const ours: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    info(`run ${i}/${RUNS}: upstream pipeline`);
    upstream.push(await seconds(() => $({ cwd: rootfs })`find . | cpio --quiet -H newc -o | gzip -9 > ${upstreamOut}`));
    info(`run ${i}/${RUNS}: initrd.ts`);
    ours.push(await seconds(() => $({ cwd: scratch })`${tsx} ${join(repoRoot, 'initrd.ts')} -o ${oursOut} ${rootfs}`));
  }
  const [tUp, tOurs] = [Math.min(...upstream), Math.min(...ours)];
  const [sUp, sOurs] = [statSync(upstreamOut).size, statSync(oursOut).size];
  const rootfsBytes = Number((await $`du -sb ${rootfs}`).stdout.split('\t')[0]);
  const timeRatio = tOurs / tUp;
  const sizeRatio = sOurs / sUp;
  console.log(`\ninitrd of a Debian rootfs (${(rootfsBytes / 2 ** 20).toFixed(0)} MiB, ${rootfs})`);
  console.log(`  upstream find|cpio|gzip -9: ${tUp.toFixed(1)} s, ${sUp} bytes   (runs: ${upstream.map((t) => t.toFixed(1)).join(', ')} s)`);
  console.log(`  initrd.ts:                  ${tOurs.toFixed(1)} s, ${sOurs} bytes   (runs: ${ours.map((t) => t.toFixed(1)).join(', ')} s)`);
  console.log(`  time ratio ours/upstream: ${timeRatio.toFixed(2)} (target <= ${TIME_TARGET.toFixed(2)}) ${timeRatio <= TIME_TARGET ? 'MET' : 'MISSED'}`);
  console.log(`  size ratio ours/upstream: ${sizeRatio.toFixed(4)} (target <= ${SIZE_TARGET}) ${sizeRatio <= SIZE_TARGET ? 'MET' : 'MISSED'}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
