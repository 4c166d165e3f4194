// bench:image — image.ts against the floor: `mke2fs -d` of the same tree into
// one file of the same partition size, measured in the same run, for two
// trees: the Debian rootfs (ratio with tsx's start-up taken out, target
// <= 1.5x) and a copy of it grown to about 1 GiB with incompressible files
// (ratio all in, target <= 1.2x). tsx starting an empty script is timed too,
// and image.ts's own step totals (its `INFO: total` line) are printed as the
// parts of its time.
// image.ts is also timed as make runs it (scripts/launch.mjs: the cached bundle, no tsx).
// Usage: npm run bench:image [-- ROOTFS_DIR] [-- --runs N] [-- --grow-to-mb N (0: skip the large tree)]
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { $ } from '../lib/core/exec.ts';
import { readMbrPartitions } from '../lib/image/mbr.ts';
import { debianRootfs } from '../test/helpers/rootfs-fixture.ts';
import { median, seconds, totalsIn } from './timing.ts';

const repo = new URL('../', import.meta.url).pathname;
const args = minimist(process.argv.slice(2), { string: ['runs', 'grow-to-mb'] });
const runs = Number(args.runs ?? 3);
const growToMb = Number(args['grow-to-mb'] ?? 1024);
const baseRootfs = args._[0] ? String(args._[0]) : await debianRootfs({ agentInit: 'no' });
const scratch = mkdtempSync('/var/tmp/bench-image-');
const tsx = join(repo, 'node_modules/.bin/tsx');
const launcher = join(repo, 'scripts/launch.mjs');
await $`node ${launcher} ${join(repo, 'image.ts')} --help`; // the bundle is made once, before any timing

const duMb = async (dir: string) => Number((await $`du -sm ${dir}`).stdout.split('\t')[0]);

/** A copy of the tree with 1 MiB incompressible files in /opt/payload up to about `mb` MB in all. */
async function grownTree(mb: number): Promise<string> {
  const tree = join(scratch, 'rootfs-grown');
  await $`cp -a ${baseRootfs} ${tree}`;
  mkdirSync(join(tree, 'opt/payload'), { recursive: true });
  const chunk = Buffer.alloc(1 << 20);
  const extra = Math.max(0, mb - (await duMb(tree)));
  for (let i = 0; i < extra; i++) writeFileSync(join(tree, 'opt/payload', `f${i}`), randomFillSync(chunk));
  return tree;
}

interface Measured { ours: number; launched: number; startup: number; floor: number; imageMiB: number; treeMb: number; parts: Map<string, number> }

async function measure(rootfs: string): Promise<Measured> {
  const empty = join(scratch, 'empty.ts');
  writeFileSync(empty, 'export {};\n');
  const image = join(scratch, 'kata.img');
  const floorFile = join(scratch, 'floor.img');
  const ours: number[] = [];
  const floor: number[] = [];
  const startup: number[] = [];
  const launched: number[] = [];
  const steps: Map<string, number>[] = [];
  for (let i = 0; i < runs; i++) {
    rmSync(image, { force: true });
    let out = '';
    ours.push(await seconds(async () => {
      out = (await $`${tsx} ${join(repo, 'image.ts')} -o ${image} ${rootfs}`).stdout;
    }));
    steps.push(totalsIn(out)[0]?.steps ?? new Map());
    startup.push(await seconds(() => $`${tsx} ${empty}`));
    rmSync(image, { force: true });
    launched.push(await seconds(() => $`node ${launcher} ${join(repo, 'image.ts')} -o ${image} ${rootfs}`));
    const mbr = Buffer.alloc(512);
    const fd = openSync(image, 'r');
    readSync(fd, mbr, 0, 512, 0);
    closeSync(fd);
    const bytes = readMbrPartitions(mbr)[0]!.sectors * 512;
    rmSync(floorFile, { force: true });
    floor.push(await seconds(async () => {
      await $`truncate -s ${bytes} ${floorFile}`;
      await $`mke2fs -q -F -t ext4 -b 4096 -d ${rootfs} ${floorFile}`;
    }));
  }
  const parts = new Map([...steps[0]!.keys()].map((k) => [k, median(steps.map((s) => s.get(k) ?? 0))]));
  const m = { ours: median(ours), launched: median(launched), startup: median(startup), floor: median(floor), imageMiB: statSync(image).size / 1048576, treeMb: await duMb(rootfs), parts };
  rmSync(image, { force: true });
  rmSync(floorFile, { force: true });
  return m;
}

function report(what: string, rootfs: string, m: Measured): void {
  console.log(`\n${what}: ${rootfs} (${m.treeMb} MB), image ${m.imageMiB} MiB, ${runs} runs (medians)`);
  console.log(`  image.ts (tsx start-up included): ${m.ours.toFixed(2)} s`);
  for (const [step, s] of m.parts) console.log(`    ${step}: ${s.toFixed(2)} s`);
  const inSteps = [...m.parts.values()].reduce((a, b) => a + b, 0);
  console.log(`    the rest (start-up, loading modules, layout, fsync): ${(m.ours - inSteps).toFixed(2)} s`);
  console.log(`  tsx start-up alone (empty script): ${m.startup.toFixed(2)} s`);
  console.log(`  floor, mke2fs -d into one file:    ${m.floor.toFixed(2)} s`);
  console.log(`  image.ts as make runs it (scripts/launch.mjs, bundle made), all in: ${m.launched.toFixed(2)} s: ${(m.launched / m.floor).toFixed(2)}x`);
}

try {
  const base = await measure(baseRootfs);
  report('Debian rootfs', baseRootfs, base);
  const small = (base.ours - base.startup) / base.floor;
  console.log(`  ratio without tsx start-up: ${small.toFixed(2)}x (target <= 1.5x); all in: ${(base.ours / base.floor).toFixed(2)}x`);
  let large: number | undefined;
  let bigLaunched: number | undefined;
  let bigFloor: number | undefined;
  if (growToMb > 0) {
    const grown = await grownTree(growToMb);
    const big = await measure(grown);
    report(`Debian rootfs grown to ~${growToMb} MB`, grown, big);
    large = big.ours / big.floor;
    bigLaunched = big.launched;
    bigFloor = big.floor;
    console.log(`  ratio all in: ${large.toFixed(2)}x (target <= 1.2x)`);
  }
  console.log(`\nratios: Debian image less tsx start-up / mke2fs ${small.toFixed(2)}x (<= 1.5x)${large !== undefined ? `; ~${growToMb} MB tree all in / mke2fs ${large.toFixed(2)}x (<= 1.2x)` : ''}`);
  console.log(`        as make runs image.ts (no tsx), all in: ${(base.launched / base.floor).toFixed(2)}x${large !== undefined ? ` and ${(bigLaunched! / bigFloor!).toFixed(2)}x` : ''}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
