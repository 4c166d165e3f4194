// The download retry around real apt and mmdebstrap: a one-package archive on
// 127.0.0.1 serves the .deb with a different size, as a mirror mid-sync does,
// until our retry; apt's own line (the one of the incident) is named in the
// WARNING. `apt-get download` is how the boot checks fetch a kernel; the
// mmdebstrap run is wired as lib/rootfs/debootstrap.ts wires it (the target
// emptied before the retry), with the extract variant, as a minbase tree
// needs a whole distro. A package apt does not know fails at the first try.
// apt runs with a private state: nothing of the host's apt is read or written.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { withDownloadRetries } from '../../lib/core/retry.ts';
import { emptyTarget } from '../../lib/rootfs/fresh-target.ts';
import { type FlakyServer, serveFlaky } from '../helpers/flaky-server.ts';
import { stderrOf } from '../helpers/stderr.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-retry-apt-test-');
const PKG = 'osbuilder-retry-probe';
let server: FlakyServer;
let apt: string[] = [];
test.after(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** A flat archive holding one .deb, with a Release file naming its index. */
async function makeArchive(dir: string): Promise<void> {
  const src = join(scratch, 'src');
  mkdirSync(join(src, 'DEBIAN'), { recursive: true });
  mkdirSync(join(src, 'usr/share', PKG), { recursive: true });
  writeFileSync(join(src, 'usr/share', PKG, 'probe'), 'probe\n');
  writeFileSync(join(src, 'DEBIAN/control'), `Package: ${PKG}\nVersion: 1.0\nArchitecture: all\nMaintainer: osbuilder-ts tests <tests@localhost>\nDescription: retry test probe\n`);
  mkdirSync(join(dir, 'pool'), { recursive: true });
  await $`dpkg-deb --root-owner-group -Zgzip --build ${src} ${join(dir, 'pool', `${PKG}_1.0_all.deb`)}`;
  const packages = (await $({ cwd: dir })`dpkg-scanpackages --multiversion pool /dev/null`).stdout;
  writeFileSync(join(dir, 'Packages'), packages);
  const sha = createHash('sha256').update(packages).digest('hex');
  writeFileSync(join(dir, 'Release'), `Origin: osbuilder-ts tests\nSuite: test\nSHA256:\n ${sha} ${Buffer.byteLength(packages)} Packages\n`);
}

test.before(async () => {
  const archive = join(scratch, 'archive');
  await makeArchive(archive);
  server = await serveFlaky(archive);
  const state = join(scratch, 'apt');
  for (const d of ['lists/partial', 'cache/archives/partial', 'parts']) mkdirSync(join(state, d), { recursive: true });
  writeFileSync(join(state, 'status'), '');
  writeFileSync(join(state, 'sources.list'), `deb [trusted=yes] ${server.url} ./\n`);
  apt = [
    '-o', `Dir::Etc::SourceList=${join(state, 'sources.list')}`, '-o', `Dir::Etc::SourceParts=${join(state, 'parts')}`,
    '-o', `Dir::State::Lists=${join(state, 'lists')}`, '-o', `Dir::State::status=${join(state, 'status')}`,
    '-o', `Dir::Cache=${join(state, 'cache')}`, '-o', 'Debug::NoLocking=1',
  ];
  await $`apt-get ${apt} -qq update`;
});

test('apt-get download of a .deb of the wrong size: retried once the WARNING names apt\'s line, then downloaded', async () => {
  const dest = join(scratch, 'download');
  mkdirSync(dest);
  server.requests.clear();
  server.resizing = /\.deb$/;
  const what = `apt-get download ${PKG}`;
  const { stderr, error } = await stderrOf(() =>
    withDownloadRetries(what, () => $({ cwd: dest })`apt-get ${apt} download ${PKG}`, { beforeRetry: () => void (server.resizing = undefined) }));
  assert.is(error, undefined, String(error));
  const warnings = stderr.split('\n').filter((l) => l.startsWith('WARNING: '));
  assert.is(warnings.length, 1, stderr);
  assert.match(warnings[0]!, new RegExp(`^WARNING: ${what} failed with a transient download error \\(.*File has unexpected size \\(\\d+ != \\d+\\)\\. Mirror sync in progress\\?.*\\); retry 2 of 3 in 5 s$`));
  const deb = join(dest, `${PKG}_1.0_all.deb`);
  assert.ok(existsSync(deb));
  assert.equal(readFileSync(deb), readFileSync(join(scratch, 'archive/pool', `${PKG}_1.0_all.deb`)));
  const counts = server.requests.get(`/pool/${PKG}_1.0_all.deb`)!;
  assert.ok(counts.failed >= 1 && counts.served === 1, JSON.stringify(counts));
});

test('mmdebstrap meeting the resized .deb: the target it left is emptied, the retry completes the tree', async () => {
  const target = join(scratch, 'mmdebstrap-target');
  mkdirSync(target);
  server.requests.clear();
  server.resizing = /\.deb$/;
  let leftBehind: string[] = [];
  const beforeRetry = async () => {
    server.resizing = undefined;
    leftBehind = readdirSync(target);
    await emptyTarget(target);
  };
  const mirror = `deb [trusted=yes] ${server.url} ./`;
  const { stderr, error } = await stderrOf(() =>
    withDownloadRetries('mmdebstrap', () => $`mmdebstrap --mode=root --variant=extract --include=${PKG} test ${target} ${mirror}`, { beforeRetry }));
  assert.is(error, undefined, String(error));
  assert.match(stderr, /^WARNING: mmdebstrap failed with a transient download error \(E: Failed to fetch \S+ {2}File has unexpected size \(\d+ != \d+\)\. Mirror sync in progress\? \[IP: 127\.0\.0\.1 \d+\]\); retry 2 of 3 in 5 s$/m);
  assert.ok(leftBehind.length > 0, 'the failed run left files mmdebstrap would refuse');
  assert.is(readFileSync(join(target, 'usr/share', PKG, 'probe'), 'utf8'), 'probe\n');
});

test('apt-get download of a package apt does not know: one try, no WARNING', async () => {
  const dest = join(scratch, 'nosuch');
  mkdirSync(dest);
  let calls = 0;
  const { stderr, error } = await stderrOf(() => withDownloadRetries('apt-get download', () => (calls++, $({ cwd: dest })`apt-get ${apt} download no-such-package`)));
  assert.ok(error);
  assert.is(calls, 1);
  assert.not.match(stderr, /WARNING/);
  assert.equal(readdirSync(dest), []);
});

test.run();
