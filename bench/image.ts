// bench:image — image.ts against the floor: `mke2fs -d` of the same Debian
// rootfs into one file of the same partition size, measured in the same run.
// image.ts is timed as a user runs it (tsx start-up included).
// Usage: npm run bench:image [-- ROOTFS_DIR] [-- --runs N]
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { $ } from '../lib/exec.ts';
import { readMbrPartitions } from '../lib/mbr.ts';
import { debianRootfs } from '../test/helpers/rootfs-fixture.ts';

const repo = new URL('../', import.meta.url).pathname;
const args = minimist(process.argv.slice(2), { string: ['runs'] });
const runs = Number(args.runs ?? 3);
const rootfs = args._[0] ? String(args._[0]) : await debianRootfs({ agentInit: 'no' });
const scratch = mkdtempSync('/var/tmp/bench-image-');

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const image = join(scratch, 'kata.img');
  const floorFile = join(scratch, 'floor.img');
  const ours: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < runs; i++) {
    rmSync(image, { force: true });
    ours.push(await timed(() => $`${join(repo, 'node_modules/.bin/tsx')} ${join(repo, 'image.ts')} -o ${image} ${rootfs}`));
    const mbr = Buffer.alloc(512);
    const fd = openSync(image, 'r');
    readSync(fd, mbr, 0, 512, 0);
    closeSync(fd);
    const p1 = readMbrPartitions(mbr)[0]!;
    const bytes = p1.sectors * 512;
    rmSync(floorFile, { force: true });
    floor.push(await timed(async () => {
      await $`truncate -s ${bytes} ${floorFile}`;
      await $`mke2fs -q -F -t ext4 -b 4096 -d ${rootfs} ${floorFile}`;
    }));
  }
  const du = (await $`du -sm ${rootfs}`).stdout.split('\t')[0];
  console.log(`rootfs: ${rootfs} (${du} MB), image ${statSync(image).size / 1048576} MiB, ${runs} runs (median)`);
  console.log(`image.ts (tsx start-up included): ${median(ours).toFixed(2)} s`);
  console.log(`floor, mke2fs -d into one file:  ${median(floor).toFixed(2)} s`);
  console.log(`ratio: ${(median(ours) / median(floor)).toFixed(2)}x`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
