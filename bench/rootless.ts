// Benchmark: the same Debian guest (test agent, AGENT_INIT=yes, -d) built
// as root and rootless (a local user with a subordinate range, in a user
// namespace: lib/core/userns.ts), in one run, package caches filled first so
// that only the builds are measured. Prints both times and their ratio.
// Usage: npm run bench:rootless   (as root: it creates the user osb-rootless)
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../lib/core/exec.ts';
import { formatSeconds, info } from '../lib/core/log.ts';
import { subordinateRange } from '../lib/core/userns.ts';
import { testAgentBinary } from '../test/helpers/agent.ts';
import { cacheRoot } from '../test/helpers/cache.ts';
import { runRootfs } from '../test/helpers/rootfs-fixture.ts';
import { projectCopy, testUser } from '../test/helpers/nonroot-user.ts';
import { seconds } from './timing.ts';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin';
const scratch = mkdtempSync('/var/tmp/osbuilder-bench-rootless-');
const user = await testUser('osb-rootless', { ranges: '600000-665535' });
const range = subordinateRange(readFileSync('/etc/subuid', 'utf8'), user.name, user.uid)!;
try {
  const osbuilder = join(scratch, 'osbuilder');
  await projectCopy(osbuilder);
  const agent = join(scratch, 'kata-agent');
  copyFileSync(await testAgentBinary(), agent);
  const shared = join(cacheRoot, 'packages');
  const userPackages = join(scratch, 'packages');
  mkdirSync(userPackages);
  for (const name of ['.osbuilder-ts-cache', 'debian-bookworm-amd64-mmdebstrap', '.debian-bookworm-amd64-mmdebstrap.debs']) {
    if (existsSync(join(shared, name))) await $`cp -a ${join(shared, name)} ${userPackages}/`;
  }
  await $`chown -R ${user.uid}:${user.gid} ${scratch}`;
  const vars = { AGENT_SOURCE_BIN: agent, AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: '1700000000', DISTRO_CACHE_DIR: 'no' };

  const asRoot = async () => {
    const out = await runRootfs(['-d', '-r', join(scratch, 'root-rootfs'), 'debian'], { ...vars, PACKAGE_CACHE_DIR: shared });
    if (out.exitCode !== 0) throw new Error(`root build failed: ${out.stderr}`);
  };
  const rootless = async () => {
    const assigns = Object.entries({ PATH, HOME: user.home, PACKAGE_CACHE_DIR: userPackages, ...vars }).map(([k, v]) => `${k}=${v}`);
    const out = await $({ cwd: osbuilder, nothrow: true })`runuser -u ${user.name} -- env -i ${assigns} node_modules/.bin/tsx rootfs.ts -d -r ${join(scratch, 'rootless-rootfs')} debian`;
    if (out.exitCode !== 0) throw new Error(`rootless build failed: ${out.stderr}`);
  };
  info('Building as root...');
  const rootSeconds = await seconds(asRoot);
  info(`Building as ${user.name}, rootless...`);
  const rootlessSeconds = await seconds(rootless);
  console.log(`\nDebian guest (test agent, AGENT_INIT=yes, -d), package caches filled`);
  console.log(`  root:     ${formatSeconds(rootSeconds * 1000)}`);
  console.log(`  rootless: ${formatSeconds(rootlessSeconds * 1000)} (${user.name}, ids mapped from ${range.start})`);
  console.log(`  ratio rootless/root: ${(rootlessSeconds / rootSeconds).toFixed(2)} (target <= 1.15)`);
} finally {
  // The rootless tree holds the subordinate ids' files: root removes it all.
  await $`rm -rf ${scratch}`;
}
