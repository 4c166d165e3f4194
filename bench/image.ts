// bench:image — image.ts against the floor: `mke2fs -d` of the same Debian
// rootfs into one file of the same partition size, measured in the same run.
// image.ts is timed as a user runs it (tsx start-up included); tsx starting
// an empty script is timed too, so the fixed cost can be told apart.
// --extra-mb N adds N MiB of files to a copy of the tree: the ratio should
// fall toward 1 as trees grow.
// Usage: npm run bench:image [-- ROOTFS_DIR] [-- --runs N] [-- --extra-mb N]
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { $ } from '../lib/core/exec.ts';
import { readMbrPartitions } from '../lib/image/mbr.ts';
import { debianRootfs } from '../test/helpers/rootfs-fixture.ts';
import { median, seconds } from './timing.ts';

const repo = new URL('../', import.meta.url).pathname;
const args = minimist(process.argv.slice(2), { string: ['runs', 'extra-mb'] });
const runs = Number(args.runs ?? 3);
const extraMb = Number(args['extra-mb'] ?? 0);
const baseRootfs = args._[0] ? String(args._[0]) : await debianRootfs({ agentInit: 'no' });
const scratch = mkdtempSync('/var/tmp/bench-image-');
const tsx = join(repo, 'node_modules/.bin/tsx');

/** A copy of the tree with extraMb MiB of incompressible files (1 MiB each) in /opt/payload. */
async function grownTree(): Promise<string> {
  const tree = join(scratch, 'rootfs');
  await $`cp -a ${baseRootfs} ${tree}`;
  mkdirSync(join(tree, 'opt/payload'), { recursive: true });
  for (let i = 0; i < extraMb; i++) await $`head -c 1M /dev/urandom > ${join(tree, 'opt/payload', `f${i}`)}`;
  return tree;
}


try {
  const rootfs = extraMb > 0 ? await grownTree() : baseRootfs;
  const empty = join(scratch, 'empty.ts');
  writeFileSync(empty, 'export {};\n');
  const image = join(scratch, 'kata.img');
  const floorFile = join(scratch, 'floor.img');
  const ours: number[] = [];
  const floor: number[] = [];
  const startup: number[] = [];
  for (let i = 0; i < runs; i++) {
    rmSync(image, { force: true });
    ours.push(await seconds(() => $`${tsx} ${join(repo, 'image.ts')} -o ${image} ${rootfs}`));
    startup.push(await seconds(() => $`${tsx} ${empty}`));
    const mbr = Buffer.alloc(512);
    const fd = openSync(image, 'r');
    readSync(fd, mbr, 0, 512, 0);
    closeSync(fd);
    const p1 = readMbrPartitions(mbr)[0]!;
    const bytes = p1.sectors * 512;
    rmSync(floorFile, { force: true });
    floor.push(await seconds(async () => {
      await $`truncate -s ${bytes} ${floorFile}`;
      await $`mke2fs -q -F -t ext4 -b 4096 -d ${rootfs} ${floorFile}`;
    }));
  }
  const du = (await $`du -sm ${rootfs}`).stdout.split('\t')[0];
  console.log(`rootfs: ${rootfs} (${du} MB), image ${statSync(image).size / 1048576} MiB, ${runs} runs (median)`);
  const [o, f, t] = [median(ours), median(floor), median(startup)];
  console.log(`image.ts (tsx start-up included): ${o.toFixed(2)} s`);
  console.log(`tsx start-up alone (empty script): ${t.toFixed(2)} s`);
  console.log(`floor, mke2fs -d into one file:   ${f.toFixed(2)} s`);
  console.log(`ratio: ${(o / f).toFixed(2)}x (target <= 1.5x); without tsx start-up: ${((o - t) / f).toFixed(2)}x`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
