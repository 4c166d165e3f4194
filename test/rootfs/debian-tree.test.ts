// The finishing steps of the Debian-family builder (upstream's Ubuntu
// rootfs_lib.sh) on a small stand-in tree: real copies; the device nodes as
// the table the packers read, the same in a user namespace.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEVICE_NODES, finishDebianTree, OPENSSL_CERT_LINK, TREE_CA_BUNDLE, UNNEEDED_SHARE_DIRS } from '../../lib/rootfs/debian-tree.ts';
import { DEVICE_NODE_TABLE, parseDeviceNodeTable } from '../../lib/core/device-nodes.ts';
import { $ } from '../../lib/core/exec.ts';
import { insideUserNamespace } from '../../lib/core/userns.ts';
import { stderrOf } from '../helpers/stderr.ts';

const tsxBin = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname;

const scratch = mkdtempSync('/var/tmp/osbuilder-debian-tree-test-');
// Host paths a tree's links name: outside the scratch dir, which is under /var (the tree's own /var link would loop back into it).
const hostSide = mkdtempSync('/tmp/osbuilder-host-sentinel-');
test.after(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(hostSide, { recursive: true, force: true });
});

/** A bootstrapped tree as mmdebstrap leaves it: var/run a directory, docs and time zones in usr/share, its own dev/ entries. */
function standInTree(name: string): string {
  const root = join(scratch, name);
  for (const d of ['var/run', 'etc', 'usr/share/doc/chrony', 'usr/share/man/man1', 'usr/share/zoneinfo', 'dev/pts', 'dev/shm']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'var/run/stale'), '');
  writeFileSync(join(root, 'usr/share/zoneinfo/UTC'), 'TZif');
  symlinkSync('/proc/self/fd/0', join(root, 'dev/stdin')); // mmdebstrap's link, not upstream's
  writeFileSync(join(root, 'dev/urandom'), ''); // where mmdebstrap as root leaves a node
  return root;
}

const DEV_AS_BUILT = ['.osbuilder-device-nodes', 'fd', 'stderr', 'stdin', 'stdout'];

test('the CA bundle copied in, cert.pem linked to it; var/run -> /run; docs gone, time zones kept; device nodes and fd links', async () => {
  const root = standInTree('full');
  const bundle = join(scratch, 'bundle.crt');
  writeFileSync(bundle, '-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n');
  // A link left where the bundle goes must be replaced, not written through.
  const outside = join(scratch, 'outside.crt');
  writeFileSync(outside, 'host file');
  mkdirSync(join(root, 'etc/ssl/certs'), { recursive: true });
  symlinkSync(outside, join(root, TREE_CA_BUNDLE));
  const { stderr, error } = await stderrOf(() => finishDebianTree(root, ['/nonexistent/ca.crt', bundle]));
  assert.is(error, undefined);
  assert.not.match(stderr, /WARNING/);
  assert.ok(lstatSync(join(root, TREE_CA_BUNDLE)).isFile());
  assert.is(readFileSync(join(root, TREE_CA_BUNDLE), 'utf8'), readFileSync(bundle, 'utf8'));
  assert.is(readFileSync(outside, 'utf8'), 'host file', 'the file outside the tree is untouched');
  assert.is(readlinkSync(join(root, OPENSSL_CERT_LINK)), '../../../etc/ssl/certs/ca-certificates.crt');
  assert.is(readFileSync(join(root, OPENSSL_CERT_LINK), 'utf8'), readFileSync(bundle, 'utf8'), 'cert.pem resolves to the bundle inside the tree');
  assert.is(readlinkSync(join(root, 'var/run')), '/run');
  for (const d of UNNEEDED_SHARE_DIRS) assert.not.ok(existsSync(join(root, 'usr/share', d)), d);
  assert.ok(existsSync(join(root, 'usr/share/zoneinfo/UTC')));
  // dev/ as the guest gets it whoever builds: the bootstrap tool's entries gone, the fd links, the table of nodes (made by the packers).
  assert.equal(readdirSync(join(root, 'dev')).sort(), DEV_AS_BUILT);
  assert.equal(['fd', 'stdin', 'stdout', 'stderr'].map((l) => readlinkSync(join(root, 'dev', l))), ['/proc/self/fd', 'fd/0', 'fd/1', 'fd/2']);
  const table = parseDeviceNodeTable(readFileSync(join(root, DEVICE_NODE_TABLE), 'utf8'));
  assert.equal(table, DEVICE_NODES);
  assert.equal(table.map((n) => [n.rel, n.major, n.minor, n.perm]), [
    ['dev/console', 5, 1, 0o600], ['dev/tty', 5, 0, 0o666], ...[0, 1, 2, 3, 4].map((n) => [`dev/ttyS${n}`, 4, 64 + n, 0o660]), ['dev/null', 1, 3, 0o666], ['dev/zero', 1, 5, 0o666],
  ]);
  assert.ok(table.every((n) => n.type === 'char' && n.uid === 0 && n.gid === 0), 'character devices, root\'s');
  assert.is(statSync(join(root, DEVICE_NODE_TABLE)).mode & 0o777, 0o644);
  // Run twice (a debootstrap retry, a second pass): nothing fails, nothing changes.
  const again = await stderrOf(() => finishDebianTree(root, [bundle]));
  assert.is(again.error, undefined);
  assert.is(readlinkSync(join(root, 'dev/fd')), '/proc/self/fd');
});

test('no CA bundle where the build runs: one WARNING naming the paths looked at, the build goes on', async () => {
  const root = standInTree('no-bundle');
  const { stderr, error } = await stderrOf(() => finishDebianTree(root, ['/nonexistent/a.crt', '/nonexistent/b.crt']));
  assert.is(error, undefined);
  assert.equal(stderr.trim().split('\n'), [
    'WARNING: no CA bundle on the build host (looked for /nonexistent/a.crt, /nonexistent/b.crt): the tree gets no etc/ssl/certs/ca-certificates.crt, so TLS in the guest cannot verify servers; install ca-certificates where the build runs',
  ]);
  assert.not.ok(existsSync(join(root, TREE_CA_BUNDLE)));
  assert.not.ok(existsSync(join(root, OPENSSL_CERT_LINK)));
  assert.is(readlinkSync(join(root, 'var/run')), '/run');
});

test('absolute links in the tree lead inside it: var, usr/lib/ssl and dev as links to host paths change nothing outside', async () => {
  const root = standInTree('links');
  const host = hostSide;
  for (const d of ['var/run', 'ssl', 'share/doc', 'dev']) mkdirSync(join(host, d), { recursive: true });
  // The same paths inside the tree, where the guest's links lead.
  for (const d of ['var', 'ssl', 'dev']) mkdirSync(join(root, host.slice(1), d), { recursive: true });
  writeFileSync(join(host, 'var/run/keep'), 'host');
  writeFileSync(join(host, 'share/doc/keep'), 'host');
  rmSync(join(root, 'var'), { recursive: true });
  symlinkSync(join(host, 'var'), join(root, 'var'));
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  symlinkSync(join(host, 'ssl'), join(root, 'usr/lib/ssl'));
  rmSync(join(root, 'dev'), { recursive: true });
  symlinkSync(join(host, 'dev'), join(root, 'dev'));
  const bundle = join(scratch, 'bundle-links.crt');
  writeFileSync(bundle, 'stand-in');
  await finishDebianTree(root, [bundle]);
  assert.equal(readFileSync(join(host, 'var/run/keep'), 'utf8'), 'host');
  assert.equal(readFileSync(join(host, 'share/doc/keep'), 'utf8'), 'host');
  for (const d of ['ssl', 'dev']) assert.equal(readdirSync(join(host, d)), [], `nothing written into the host's ${d}`);
  // The guest sees them where its own links lead: under the tree.
  assert.is(readlinkSync(join(root, host.slice(1), 'var/run')), '/run');
  assert.ok(lstatSync(join(root, host.slice(1), DEVICE_NODE_TABLE)).isFile());
  assert.ok(lstatSync(join(root, host.slice(1), 'ssl/cert.pem')).isSymbolicLink());
});

test('in a user namespace (a rootless build, rootless podman): no WARNING, the same dev/ and table as root\'s', async () => {
  const root = standInTree('userns');
  const bundle = join(scratch, 'bundle-userns.crt');
  writeFileSync(bundle, 'stand-in');
  const module = new URL('../../lib/rootfs/debian-tree.ts', import.meta.url).pathname;
  const script = `import(${JSON.stringify(module)}).then((m) => m.finishDebianTree(${JSON.stringify(root)}, [${JSON.stringify(bundle)}]));`;
  // A real user namespace mapping only root, as rootless podman's: the kernel refuses mknod there, and none is needed.
  const r = await $({ nothrow: true })`unshare --user --map-root-user ${tsxBin} -e ${script}`;
  assert.is(r.exitCode, 0, r.stderr);
  assert.not.match(r.stderr, /WARNING/);
  assert.equal(readdirSync(join(root, 'dev')).sort(), DEV_AS_BUILT);
  assert.is(readFileSync(join(root, DEVICE_NODE_TABLE), 'utf8'), readFileSync(join(scratch, 'full', DEVICE_NODE_TABLE), 'utf8'));
  assert.is(insideUserNamespace(), false, 'the test itself runs in the initial namespace');
});

test.run();
