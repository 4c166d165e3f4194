// Benchmark: a foreign-architecture Debian rootfs build (ARCH=aarch64, the
// maintainer scripts and dpkg itself running through qemu-user) against the
// native amd64 build, same run, same settings (package cache filled for both
// by a first untimed build, BUILD_IN_RAM=auto). Prints the ratio.
// Usage: npm run bench:cross [-- --arch aarch64|s390x|ppc64le]   (root; needs the Debian mirror)
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { type Arch, checkArch } from '../lib/core/arch.ts';
import { formatSeconds, info } from '../lib/core/log.ts';
import { removeTree } from '../lib/core/safe-paths.ts';
import { testAgentBinary } from '../test/helpers/agent.ts';
import { runRootfs } from '../test/helpers/rootfs-fixture.ts';
import { seconds } from './timing.ts';

const foreign = checkArch(String(minimist(process.argv.slice(2), { string: ['arch'] }).arch ?? 'aarch64'), '--arch');
const scratch = mkdtempSync('/var/tmp/osbuilder-bench-cross-');

async function build(arch: Arch, what: string): Promise<number> {
  const dir = join(scratch, `rootfs-${arch}`);
  const agent = await testAgentBinary(arch);
  info(`${what}...`);
  const s = await seconds(async () => {
    const out = await runRootfs(['-r', dir, 'debian'], { ARCH: arch, AGENT_SOURCE_BIN: agent, PACKAGE_CACHE_DIR: join(scratch, 'packages') });
    if (out.exitCode !== 0) throw new Error(`rootfs.ts ARCH=${arch} failed: ${out.stderr}`);
  });
  info(`${what}: ${formatSeconds(s * 1000)}`);
  await removeTree(dir);
  return s;
}

try {
  // Untimed first builds fill the package caches: the comparison is of the builds, not the downloads.
  for (const arch of ['x86_64', foreign] as const) await build(arch, `filling the package cache (${arch})`);
  const native = await build('x86_64', 'native x86_64 build');
  const cross = await build(foreign, `${foreign} build through qemu-user`);
  console.log(`\nDebian rootfs build, package cache filled, same run:`);
  console.log(`  native x86_64:        ${formatSeconds(native * 1000)}`);
  console.log(`  ${foreign} (qemu-user): ${formatSeconds(cross * 1000)}`);
  console.log(`  ratio ${foreign}/native: ${(cross / native).toFixed(2)}`);
} finally {
  for (const arch of ['x86_64', foreign]) await removeTree(join(scratch, `rootfs-${arch}`));
  rmSync(scratch, { recursive: true, force: true });
}
