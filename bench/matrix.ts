// Benchmark: kata-deploy's Debian artifacts in one run against one of them
// alone. The five, through the commands kata-deploy uses (build_image.sh's
// `make image` / `make initrd` lines with its variables, the devkit's two
// upstream script paths), each into a build directory of its own:
//   base                 make image   BUILD_VARIANT=base MEASURED_ROOTFS=yes
//   confidential         make image   BUILD_VARIANT=confidential CONFIDENTIAL_GUEST=yes MEASURED_ROOTFS=yes + CoCo tarball
//   initrd               make initrd  AGENT_INIT=yes
//   confidential initrd  make initrd  BUILD_VARIANT=confidential CONFIDENTIAL_GUEST=yes MEASURED_ROOTFS=no + CoCo tarball
//   devkit extension     rootfs-builder/rootfs.sh devkit, image-builder/image_builder.sh (erofs, measured)
// Both sides start cold: a fresh distro-tree cache (DISTRO_CACHE_DIR) and a
// fresh package cache (PACKAGE_CACHE_DIR), which the five then share as any
// user's builds do. Target: the five in at most 2.5x the time of the base alone.
// Runs as root on the host (no USE_DOCKER): kata-deploy's builds run in its
// container, which this does not measure. The devkit comes from the archive of
// test/helpers/devkit-archive.ts (this host's Debian mirror).
// Usage: npm run bench:matrix   (root; needs the Debian mirror)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../lib/core/exec.ts';
import { formatSeconds, info } from '../lib/core/log.ts';
import { removeTree } from '../lib/core/safe-paths.ts';
import { testAgentBinary } from '../test/helpers/agent.ts';
import { devkitArchive } from '../test/helpers/devkit-archive.ts';
import { cleanEnv, repoRoot } from '../test/helpers/rootfs-fixture.ts';
import { makeTar } from '../test/helpers/tar-writer.ts';
import { seconds } from './timing.ts';

const TARGET = 2.5;
const scratch = mkdtempSync('/var/tmp/osbuilder-bench-matrix-');

interface Artifact {
  name: string;
  /** Build it into `dir` with `env` (the caches); throws on failure. */
  build: (dir: string, env: NodeJS.ProcessEnv) => Promise<void>;
}

async function run(what: string, cmd: Promise<{ exitCode: number | null; stdout: string; stderr: string }>): Promise<void> {
  const out = await cmd;
  if (out.exitCode !== 0) throw new Error(`${what} failed:\n${out.stdout.slice(-3000)}\n${out.stderr.slice(-3000)}`);
  // Each script's own step totals: where an artifact's seconds go.
  for (const line of `${out.stdout}\n${out.stderr}`.split('\n')) if (/^INFO: total /.test(line)) console.log(`    ${what}: ${line.slice(6)}`);
}

/** build_image.sh's `make image|initrd` in the osbuilder dir; the image goes to the build dir (IMAGES_BUILD_DEST) rather than being moved there. */
function makeTarget(target: 'image' | 'initrd', vars: Record<string, string>): Artifact['build'] {
  return (dir, env) => {
    const dest = join(dir, `${target === 'image' ? 'rootfs' : 'initrd'}-image`);
    mkdirSync(dest); // build_image.sh makes its build dir
    return run(`make ${target}`, $({ cwd: repoRoot, env: { ...env, ...vars }, nothrow: true })`make -s ${target} DISTRO=debian ROOTFS_BUILD_DEST=${dest} IMAGES_BUILD_DEST=${dir}`);
  };
}

async function fixtures(): Promise<{ agentEnv: Record<string, string>; coco: string }> {
  const policy = join(scratch, 'allow-all.rego');
  writeFileSync(policy, 'package agent_policy\ndefault AllowRequestsFailingPolicy := true\n');
  const tar = join(scratch, 'coco-guest-components.tar');
  writeFileSync(tar, makeTar([
    { name: 'usr/local/bin/attestation-agent', data: '#!/bin/sh\n', mode: 0o755 },
    { name: 'usr/local/bin/confidential-data-hub', data: '#!/bin/sh\n', mode: 0o755 },
    { name: 'etc/ocicrypt_config.json', data: '{"key-providers":{}}\n', mode: 0o644 },
  ]));
  await $`zstd -q --rm ${tar}`;
  // kata-deploy's AGENT_POLICY default (yes); the test agent stands in for kata-agent.
  return { agentEnv: { AGENT_SOURCE_BIN: await testAgentBinary(), AGENT_POLICY: 'yes', AGENT_POLICY_FILE: policy }, coco: `${tar}.zst` };
}

function artifacts(coco: string): Artifact[] {
  const archive = devkitArchive();
  return [
    { name: 'base image', build: makeTarget('image', { BUILD_VARIANT: 'base', MEASURED_ROOTFS: 'yes' }) },
    { name: 'confidential image', build: makeTarget('image', { BUILD_VARIANT: 'confidential', CONFIDENTIAL_GUEST: 'yes', MEASURED_ROOTFS: 'yes', COCO_GUEST_COMPONENTS_TARBALL: coco }) },
    { name: 'initrd', build: makeTarget('initrd', { AGENT_INIT: 'yes' }) },
    { name: 'confidential initrd', build: makeTarget('initrd', { BUILD_VARIANT: 'confidential', CONFIDENTIAL_GUEST: 'yes', MEASURED_ROOTFS: 'no', AGENT_INIT: 'no', COCO_GUEST_COMPONENTS_TARBALL: coco }) },
    {
      name: 'devkit extension',
      build: async (dir, env) => {
        const rootfs = mkdtempSync(join(dir, '.devkit-extension-rootfs.'));
        await run('rootfs.sh devkit', $({ env: { ...env, ...archive.env, ROOTFS_ONLY: 'yes', ROOTFS_DIR: rootfs, AGENT_INIT: 'no', AGENT_POLICY: 'no', AGENT_TARBALL: '', AGENT_SOURCE_BIN: '' }, nothrow: true })`${join(repoRoot, 'rootfs-builder/rootfs.sh')} devkit`);
        const imageEnv = { ...env, BUILD_VARIANT: 'devkit-extension', FS_TYPE: 'erofs', MEASURED_ROOTFS: 'yes', SKIP_DAX_HEADER: 'yes', SKIP_ROOTFS_CHECK: 'yes' };
        await run('image_builder.sh', $({ env: imageEnv, nothrow: true })`${join(repoRoot, 'image-builder/image_builder.sh')} -o ${join(dir, 'kata-containers-devkit-extension.img')} ${rootfs}`);
        await removeTree(rootfs);
      },
    },
  ];
}

/** Build `list` in order from cold caches under `side`; per-artifact and total seconds. */
async function side(label: string, list: Artifact[], agentEnv: Record<string, string>): Promise<{ each: [string, number][]; total: number }> {
  const root = join(scratch, label);
  const env = { ...cleanEnv(), ...agentEnv, DISTRO_CACHE_DIR: join(root, 'distro-trees'), PACKAGE_CACHE_DIR: join(root, 'packages') };
  const each: [string, number][] = [];
  const total = await seconds(async () => {
    for (const a of list) {
      const dir = join(root, a.name.replace(/ /g, '-'));
      mkdirSync(dir, { recursive: true });
      info(`${label}: ${a.name}...`);
      const s = await seconds(() => a.build(dir, env));
      info(`${label}: ${a.name}: ${formatSeconds(s * 1000)}`);
      each.push([a.name, s]);
    }
  });
  return { each, total };
}

try {
  const load = (await $`uptime`).stdout.trim();
  const { agentEnv, coco } = await fixtures();
  const list = artifacts(coco);
  const one = await side('one', list.slice(0, 1), agentEnv);
  const all = await side('all', list, agentEnv);
  const ratio = all.total / one.total;
  console.log(`\nkata-deploy's Debian artifacts, root on the host (no build container), cold distro-tree and package caches each side`);
  console.log(`  machine before the run: ${load}`);
  console.log(`  one (${list[0]!.name} alone): ${one.total.toFixed(1)} s`);
  console.log(`  all five in one run:        ${all.total.toFixed(1)} s   (${all.each.map(([n, s]) => `${n} ${s.toFixed(1)}`).join(', ')})`);
  console.log(`  ratio all/one: ${ratio.toFixed(2)} (target <= ${TARGET}) ${ratio <= TARGET ? 'MET' : 'MISSED'}`);
  console.log(`  machine after the run:  ${(await $`uptime`).stdout.trim()}`);
} finally {
  for (const label of ['one', 'all']) {
    // Built trees are root's and may hold device nodes: removed as trees, never followed.
    for (const d of ['base-image/rootfs-image', 'confidential-image/rootfs-image', 'initrd/initrd-image', 'confidential-initrd/initrd-image']) {
      await removeTree(join(scratch, label, d, 'debian_rootfs'));
    }
  }
  rmSync(scratch, { recursive: true, force: true });
}
