// PACKAGE_CACHE_DIR for real: a Debian build with the cache filled downloads
// no package again, and the cache loses the versions the build superseded;
// only its .deb files go into the distro-stage tree.
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { debianRootfs, runRootfs } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-pkgcache-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

/** Bytes this machine has received on its network interfaces (loopback aside). */
function receivedBytes(): number {
  return readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)
    .map((l) => l.trim().split(/[:\s]+/))
    .filter((f) => f.length > 2 && f[0] !== 'lo')
    .reduce((sum, f) => sum + Number(f[1]), 0);
}

test('a build with the cache filled downloads no package and drops an older version of a package it installed', async () => {
  const key = 'debian-bookworm-amd64-mmdebstrap';
  const cache = join(scratch, 'packages');
  const agent = await testAgentBinary();
  await debianRootfs({ agentInit: 'no' }); // fills the tests' package cache when it builds
  const filled = join(cacheRoot, 'packages', key);
  if (existsSync(filled)) cpSync(filled, join(cache, key), { recursive: true });
  else assert.is((await runRootfs(['-r', join(scratch, 'first'), 'debian'], { AGENT_SOURCE_BIN: agent, PACKAGE_CACHE_DIR: cache })).exitCode, 0);
  const before = readdirSync(join(cache, key)).filter((f) => f.endsWith('.deb')).sort();
  assert.ok(before.some((f) => f.startsWith('systemd_')), 'the cache holds the packages of the build');
  const superseded = join(cache, key, 'systemd_1.0-0_amd64.deb');
  const unrelated = join(cache, key, 'osbuilder-other_0.1_all.deb'); // another build's package: kept
  copyFileSync(join(cache, key, before[0]!), superseded);
  copyFileSync(join(cache, key, before[0]!), unrelated);
  writeFileSync(join(cache, key, 'not-a-package.txt'), 'left alone\n');
  // Not packages either: none of these may go into the distro-stage tree.
  writeFileSync(join(cache, key, `.${key}.debs`), 'a list\n');
  mkdirSync(join(cache, key, 'sub.deb'));
  writeFileSync(join(cache, key, 'sub.deb/inner'), 'in a directory\n');
  symlinkSync('/etc/hostname', join(cache, key, 'link.deb'));
  const foreign = ['not-a-package.txt', `.${key}.debs`, 'sub.deb', 'link.deb'];

  const debBytes = before.reduce((sum, f) => sum + statSync(join(cache, key, f)).size, 0);
  const received = receivedBytes();
  const trees = join(scratch, 'trees');
  const out = await runRootfs(['-r', join(scratch, 'rootfs'), 'debian'], { AGENT_SOURCE_BIN: agent, PACKAGE_CACHE_DIR: cache, DISTRO_CACHE_DIR: trees });
  assert.is(out.exitCode, 0, out.stderr);
  // apt still fetches the index (~10 MB for bookworm); the packages (~40 MB) come from the cache.
  const downloaded = receivedBytes() - received;
  assert.ok(downloaded < debBytes / 2, `received ${downloaded} bytes, the cached packages are ${debBytes}`);
  assert.not.ok(existsSync(superseded), 'the older systemd is dropped');
  assert.match(out.stdout, /Dropped \d+ superseded package\(s\) from /);
  assert.ok(existsSync(unrelated), "another build's package is kept");
  assert.ok(existsSync(join(cache, key, 'not-a-package.txt')));
  // The cache follows the repository: one version a package.
  const names = readdirSync(join(cache, key)).filter((f) => f.endsWith('.deb')).map((f) => f.split('_')[0]);
  assert.equal(names, [...new Set(names)]);
  assert.ok(names.includes('systemd') && names.includes('libc6'));
  assert.ok(existsSync(join(scratch, 'rootfs/usr/bin/kata-agent')));
  // The distro-stage tree (kept in DISTRO_CACHE_DIR) got the cache's packages only.
  const archives = (await $`find ${trees} -path '*/var/cache/apt/archives'`).stdout.trim().split('\n').filter(Boolean);
  assert.is(archives.length, 2, `two distro-stage trees in ${trees}: the AGENT_INIT=yes one and init installed over it`);
  for (const dir of archives) assert.equal(readdirSync(dir).filter((f) => foreign.includes(f)), [], 'no non-package file of the cache in the tree');
  for (const f of foreign) assert.ok(existsSync(join(cache, key, f)), `${f} left alone in the cache`);
});

test.run();
