// A mirror hiccup for real: dnf installs stand-in rpms from a local
// repository served over HTTP on 127.0.0.1 that answers 503 to every package
// download until our retry is announced; the build then completes. A package
// that does not exist fails at the first try.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testAgentBinary } from '../helpers/agent.ts';
import { type FlakyServer, serveFlaky } from '../helpers/flaky-server.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_STAND_INS } from '../helpers/rpm-repo.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-retry-test-');
let server: FlakyServer | undefined;
const mirror = async () => (server ??= await serveFlaky(await buildRpmRepo(join(scratch, 'rpms'), FEDORA_STAND_INS)));
test.after(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const RETRY_WARNING = /^WARNING: dnf install failed with a transient download error \((.+)\); retry 2 of 3 in 5 s$/m;
const failedRequests = (s: FlakyServer) => [...s.requests.values()].reduce((n, r) => n + r.failed, 0);

test('packages answered 503 until the retry: one WARNING naming dnf\'s line, then the build completes', async () => {
  const s = await mirror();
  s.requests.clear();
  s.failing = /\.rpm$/;
  const root = join(scratch, 'fedora_rootfs');
  const build = runRootfs(['-r', root, 'fedora'], { REPO_URL: s.url, AGENT_SOURCE_BIN: await testAgentBinary() });
  let stderr = '';
  build.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    // The mirror recovers once our retry is announced: the first dnf run could not have succeeded.
    if (RETRY_WARNING.test(stderr)) s.failing = undefined;
  });
  const out = await build;
  assert.is(out.exitCode, 0, out.stderr);
  const warning = RETRY_WARNING.exec(out.stderr);
  assert.ok(warning, out.stderr);
  assert.match(warning![1]!, /Cannot download|All mirrors were tried|Status code: 503/);
  assert.is(out.stderr.match(/^WARNING: dnf install failed/gm)?.length, 1, 'one retry');
  assert.not.match(out.stderr, /^ERROR:/m);
  assert.ok(failedRequests(s) > 0, 'the first run met the 503s');
  assert.is(s.requests.get('/repodata/repomd.xml')?.served, 2, 'dnf ran twice');
  for (const p of ['usr/sbin/iptables', 'etc/chrony.conf', 'usr/lib/systemd/systemd', 'usr/bin/kata-agent']) assert.ok(existsSync(join(root, p)), p);
  console.log(`  (${failedRequests(s)} requests answered 503 before the retry)`);
});

test('EXTRA_PKGS naming no package: one try, one ERROR line naming EXTRA_PKGS, no retry', async () => {
  const s = await mirror();
  s.requests.clear();
  s.failing = undefined;
  const root = join(scratch, 'nosuch_rootfs');
  const out = await runRootfs(['-r', root, 'fedora'], { REPO_URL: s.url, EXTRA_PKGS: 'no-such-package', AGENT_SOURCE_BIN: await testAgentBinary() });
  assert.is.not(out.exitCode, 0);
  assert.equal(out.stderr.match(/^ERROR: .*/gm), [`ERROR: no package no-such-package in ${s.url}: EXTRA_PKGS names no-such-package: correct or drop it`], out.stderr);
  assert.not.match(out.stderr, /transient/);
  assert.is(s.requests.get('/repodata/repomd.xml')?.served, 1, 'dnf ran once');
  assert.not.ok(existsSync(root));
});

test.run();
