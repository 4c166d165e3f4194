// The distro-tree cache on small trees made here: a stored tree comes back
// identical, a changed, damaged or half-written entry is never used (named in
// a WARNING), the least recently used entry is evicted first, and
// DISTRO_CACHE_DIR is checked: never /, $HOME or a dir of someone else's
// files, and nothing in it but our entries is ever touched.
import { createHash } from 'node:crypto';
import {
  appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CACHE_MARKER } from '../../lib/core/cache-root.ts';
import { $ } from '../../lib/core/exec.ts';
import { beginEntry, commitEntry, entriesByUse, entryFilled, fillEntry, hasEntry, restoreTree, storeTree, treeCacheFor, treeStats, type TreeCache } from '../../lib/rootfs/tree-cache.ts';
import { treeListing } from '../../lib/rootfs/tree-listing.ts';
import { isBuildError } from '../helpers/errors.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-tree-cache-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
/** A small distro-like tree: files, a symlink, an empty dir, odd modes, a device node. */
async function tree(content = 'x'): Promise<string> {
  const root = join(scratch, `src-${n++}`);
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  mkdirSync(join(root, 'var/empty'), { recursive: true });
  mkdirSync(join(root, 'dev'));
  writeFileSync(join(root, 'usr/bin/tool'), `#!/bin/sh\necho ${content}\n`, { mode: 0o755 });
  writeFileSync(join(root, 'etc-shadow'), 'secret\n', { mode: 0o640 });
  symlinkSync('usr/bin', join(root, 'bin'));
  await $`mknod -m 600 ${join(root, 'dev/console')} c 5 1`;
  return root;
}

/** A distro-stage key (32 hex digits) made from a short name. */
const K = (name: string) => createHash('sha256').update(name).digest('hex').slice(0, 32);

/** What `fn` writes to stderr (WARNING lines), and its result. */
async function stderrOf<T>(fn: () => Promise<T>): Promise<{ result: T; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { result: await fn(), stderr };
  } finally {
    process.stderr.write = write;
  }
}

const listing = async (root: string) => (await $`cd ${root} && find . -printf '%p %y %m %U:%G %s %l\n' | sort`).stdout;
const cacheIn = (name: string, maxEntries = 3): TreeCache => ({ dir: join(scratch, name), maxEntries });

test('DISTRO_CACHE_DIR: default under XDG_CACHE_HOME, no turns it off, a relative path is refused', () => {
  assert.equal(treeCacheFor('', 3, { XDG_CACHE_HOME: '/c' }), { dir: '/c/osbuilder-ts/distro-trees', maxEntries: 3 });
  assert.equal(treeCacheFor('/srv/trees', 5), { dir: '/srv/trees', maxEntries: 5 });
  assert.is(treeCacheFor('no', 3), undefined);
  assert.throws(() => treeCacheFor('trees', 3), isBuildError(/DISTRO_CACHE_DIR=trees is not an absolute path/));
});

test('DISTRO_CACHE_DIR: /, a system dir, $HOME and a dir holding the project are refused by name', () => {
  const home = mkdtempSync(join(scratch, 'home-'));
  const fix = /; set DISTRO_CACHE_DIR to an empty or new directory of its own, or to no$/;
  for (const [dir, why] of [
    ['/', /^refusing DISTRO_CACHE_DIR=\/: it is the host root directory \//],
    ['/etc', /^refusing DISTRO_CACHE_DIR=\/etc: it is the host system directory \/etc/],
    [home, /^refusing DISTRO_CACHE_DIR=.*home-\w+: it is the home directory /],
    [`${home}/.`, /it is the home directory/],
    [dirname(repoRoot.replace(/\/$/, '')), /it contains the project checkout /],
  ] as const) {
    assert.throws(() => treeCacheFor(dir, 3, { HOME: home }), isBuildError(why), dir);
    assert.throws(() => treeCacheFor(dir, 3, { HOME: home }), isBuildError(fix), dir);
  }
});

test("a dir of someone else's files (etc, home/x, var/lib/db) is refused, untouched; once marked ours, eviction never touches them", async () => {
  const dir = join(scratch, 'not-a-cache');
  const theirs = ['etc/passwd', 'home/x/notes', 'var/lib/db/data'];
  const plant = () => {
    for (const f of theirs) {
      mkdirSync(join(dir, dirname(f)), { recursive: true });
      writeFileSync(join(dir, f), `${f}\n`);
    }
  };
  plant();
  assert.throws(() => treeCacheFor(dir, 1), isBuildError(/^DISTRO_CACHE_DIR=.*not-a-cache is not empty and was not made by osbuilder-ts \(no \.osbuilder-ts-cache; it holds etc, home, var\): set DISTRO_CACHE_DIR to an empty or new directory/));
  const stored = await storeTree({ dir, maxEntries: 1 }, K('a'), 'fedora', scratch).then(() => undefined, (e: Error) => e);
  assert.ok(stored && isBuildError(/not made by osbuilder-ts/)(stored), 'storeTree refuses it too');
  for (const f of theirs) assert.is(readFileSync(join(dir, f), 'utf8'), `${f}\n`);

  // A cache of ours in which someone later put those: stores under eviction pressure leave them alone, named once.
  const ours = join(scratch, 'ours');
  const cache = treeCacheFor(ours, 1)!;
  await storeTree(cache, K('a'), 'fedora', await tree('a'));
  for (const f of theirs) {
    mkdirSync(join(ours, dirname(f)), { recursive: true });
    writeFileSync(join(ours, f), `${f}\n`);
  }
  writeFileSync(join(ours, K('fake')), 'a file named like a key is no entry');
  const { stderr } = await stderrOf(async () => {
    treeCacheFor(ours, 1);
    for (const k of ['b', 'c']) await storeTree(cache, K(k), 'fedora', await tree(k));
  });
  assert.equal(entriesByUse(cache), [K('c')], 'DISTRO_CACHE_ENTRIES=1: the older entries are evicted');
  for (const f of theirs) assert.is(readFileSync(join(ours, f), 'utf8'), `${f}\n`);
  assert.ok(existsSync(join(ours, K('fake'))));
  assert.equal(stderr.split('\n').filter((l) => l.startsWith('WARNING')), [`WARNING: DISTRO_CACHE_DIR=${ours} holds files osbuilder-ts did not make, left alone: ${K('fake')}, etc, home, var`]);
});

test("the package cache's dir is not the distro-tree cache's", () => {
  const dir = join(scratch, 'pkg-cache');
  mkdirSync(dir);
  writeFileSync(join(dir, CACHE_MARKER), JSON.stringify({ kind: 'packages', by: 'osbuilder-ts' }));
  assert.throws(() => treeCacheFor(dir, 3), isBuildError(/^DISTRO_CACHE_DIR=.*pkg-cache is osbuilder-ts's cache of packages \(its \.osbuilder-ts-cache says so\), not of distro-trees: set DISTRO_CACHE_DIR to/));
});

test('a cache from before the marker (only entries of ours) is adopted, its old-format entries replaced', async () => {
  const dir = join(scratch, 'old-cache');
  mkdirSync(join(dir, K('old'), 'tree/etc'), { recursive: true });
  writeFileSync(join(dir, K('old'), 'entry.json'), JSON.stringify({ format: 1, distro: 'debian', paths: 1, bytes: 0 }));
  const cache = treeCacheFor(dir, 1)!;
  await storeTree(cache, K('new'), 'debian', await tree());
  assert.ok(existsSync(join(dir, CACHE_MARKER)));
  assert.equal(readdirSync(dir).sort(), [CACHE_MARKER, K('new')].sort(), 'the old entry evicted');
});

test('a stored tree comes back with the same paths, types, modes, owners, sizes and link targets', async () => {
  const cache = cacheIn('roundtrip');
  const src = await tree();
  await storeTree(cache, K('k1'), 'fedora', src);
  assert.ok(hasEntry(cache, K('k1')));
  assert.equal(readdirSync(cache.dir).sort(), [CACHE_MARKER, K('k1')].sort(), 'no temporary left; the marker made with the dir');
  const record = JSON.parse(readFileSync(join(cache.dir, K('k1'), 'entry.json'), 'utf8'));
  assert.equal({ paths: record.paths, bytes: record.bytes, distro: record.distro }, { ...treeStats(src), distro: 'fedora' });
  const stored = readFileSync(join(cache.dir, K('k1'), 'listing'), 'utf8');
  assert.is(stored, treeListing(src), 'the listing of the tree as stored');
  assert.is(record.listingSha256, createHash('sha256').update(stored).digest('hex'));
  assert.match(stored, /^"usr\/bin\/tool"\tf 755 0:0 \d+\t[0-9a-f]{64}$/m);
  assert.match(stored, /^"bin"\tl 777 0:0 7\t"usr\/bin"$/m);
  const dest = join(scratch, 'restored');
  assert.ok(await restoreTree(cache, K('k1'), dest));
  assert.is(await listing(dest), await listing(src));
  assert.is(readFileSync(join(dest, 'usr/bin/tool'), 'utf8'), readFileSync(join(src, 'usr/bin/tool'), 'utf8'));
  assert.not.ok(await restoreTree(cache, K('other'), join(scratch, 'nothing')), 'no entry: false');
  assert.not.ok(existsSync(join(scratch, 'nothing')));
});

test('a changed, truncated or half-written entry: a WARNING naming the first differing path; not used, dropped', async () => {
  const cache = cacheIn('damaged');
  const k = K('k');
  const damages: [string, (entry: string) => void | Promise<void>, RegExp][] = [
    ['a same-length edit', (e) => writeFileSync(join(e, 'tree/usr/bin/tool'), '#!/bin/sh\necho y\n'), /first at usr\/bin\/tool \(content differs\)/],
    ['a chmod 4755', (e) => chmodSync(join(e, 'tree/usr/bin/tool'), 0o4755), /first at usr\/bin\/tool \(type mode owner size: f 755 0:0 \d+ -> f 4755 0:0 \d+\)/],
    ['an owner change', (e) => chownSync(join(e, 'tree/etc-shadow'), 1, 1), /first at etc-shadow \(type mode owner size: f 640 0:0 7 -> f 640 1:1 7\)/],
    ['a link retargeted (same length)', (e) => {
      unlinkSync(join(e, 'tree/bin'));
      symlinkSync('usr/sbi', join(e, 'tree/bin'));
    }, /first at bin \(link target differs\)/],
    ['another device number', async (e) => {
      unlinkSync(join(e, 'tree/dev/console'));
      await $`mknod -m 600 ${join(e, 'tree/dev/console')} c 4 1`;
    }, /first at dev\/console \(content differs\)/],
    ['a file added', (e) => writeFileSync(join(e, 'tree/usr/bin/new'), ''), /first at usr\/bin\/new \(not in the stored entry\)/],
    ['a truncated file', (e) => truncateSync(join(e, 'tree/usr/bin/tool'), 3), /first at usr\/bin\/tool \(type mode owner size/],
    ['a missing file', (e) => unlinkSync(join(e, 'tree/etc-shadow')), /first at etc-shadow \(missing\)/],
    ['a file grown', (e) => appendFileSync(join(e, 'tree/etc-shadow'), 'more'), /first at etc-shadow/],
    ['an edited listing', (e) => appendFileSync(join(e, 'listing'), '"x"\tf 644 0:0 0\t-\n'), /its listing does not match the digest in entry.json/],
    ['no entry.json (written last)', (e) => unlinkSync(join(e, 'entry.json')), /no readable entry.json/],
    ['an unreadable entry.json', (e) => writeFileSync(join(e, 'entry.json'), '{"format":2,"paths":'), /no readable entry.json/],
  ];
  for (const [what, damage, why] of damages) {
    await storeTree(cache, k, 'fedora', await tree());
    await damage(join(cache.dir, k));
    const dest = join(scratch, `restore-${n++}`);
    const { result, stderr } = await stderrOf(() => restoreTree(cache, k, dest));
    assert.not.ok(result, what);
    assert.not.ok(existsSync(dest), `${what}: nothing copied`);
    assert.not.ok(hasEntry(cache, k), `${what}: the entry is dropped, so the next build stores a good one`);
    const warnings = stderr.split('\n').filter((l) => l.startsWith('WARNING: '));
    assert.is(warnings.length, 1, `${what}: ${stderr}`);
    assert.match(warnings[0]!, /^WARNING: Not using the cached distro tree .*: .*; it is dropped and the distro stage runs again$/);
    assert.match(warnings[0]!, why, what);
  }
  // An entry of the format before content listings: not used, an INFO (nothing is wrong with it).
  mkdirSync(join(cache.dir, k, 'tree/etc'), { recursive: true });
  writeFileSync(join(cache.dir, k, 'entry.json'), JSON.stringify({ format: 1, distro: 'fedora', paths: 1, bytes: 0 }));
  const { result, stderr } = await stderrOf(() => restoreTree(cache, k, join(scratch, `restore-${n++}`)));
  assert.not.ok(result);
  assert.is(stderr, '');
  assert.not.ok(hasEntry(cache, k));
  // A write that died before its rename leaves only a temporary, which is no entry and is swept.
  mkdirSync(join(cache.dir, '.tmp-999999/tree'), { recursive: true });
  assert.equal(entriesByUse(cache), []);
  await storeTree(cache, k, 'fedora', await tree());
  assert.equal(readdirSync(cache.dir).sort(), [CACHE_MARKER, k].sort());
});

test('the limit evicts the least recently used entry; a use counts as recent', async () => {
  const cache = cacheIn('lru', 2);
  const age = (key: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(cache.dir, K(key), 'entry.json'), t, t);
  };
  await storeTree(cache, K('a'), 'fedora', await tree('a'));
  age('a', 30);
  await storeTree(cache, K('b'), 'centos', await tree('b'));
  age('b', 20);
  assert.ok(await restoreTree(cache, K('a'), join(scratch, `restore-${n++}`)), 'a used: now the most recent');
  await storeTree(cache, K('c'), 'debian', await tree('c'));
  assert.equal(entriesByUse(cache).sort(), [K('a'), K('c')].sort(), 'b, the least recently used, is evicted');
  // The entry just stored is never the one evicted, even when older ones were used later.
  age('c', 60);
  await storeTree(cache, K('d'), 'debian', await tree('d'));
  assert.equal(entriesByUse(cache).sort(), [K('a'), K('d')].sort());
});

test('storing a key again replaces its entry', async () => {
  const cache = cacheIn('replace');
  await storeTree(cache, K('k'), 'fedora', await tree('old'));
  await storeTree(cache, K('k'), 'fedora', await tree('new'));
  const dest = join(scratch, `restore-${n++}`);
  assert.ok(await restoreTree(cache, K('k'), dest));
  assert.match(readFileSync(join(dest, 'usr/bin/tool'), 'utf8'), /new/);
  assert.equal(readdirSync(cache.dir).sort(), [CACHE_MARKER, K('k')].sort());
});

test("a build container's view: the read-only cache restored into the kept /rootfs dir, emptied (kept) when damaged; a new entry filled there, committed outside", async () => {
  const cache = cacheIn('container');
  const src = await tree('c');
  await storeTree(cache, K('k'), 'debian', src);
  // The container's mounts: the cache read-only, /rootfs an existing empty dir.
  const view = join(scratch, 'container-view');
  mkdirSync(view);
  await $`mount --bind ${cache.dir} ${view}`;
  try {
    await $`mount -o remount,bind,ro ${view}`;
    const inside: TreeCache = { dir: view, maxEntries: 3 };
    const rootfs = join(scratch, 'container-rootfs');
    mkdirSync(rootfs, { mode: 0o700 });
    assert.ok(await restoreTree(inside, K('k'), rootfs), 'restored although the cache is read-only (its use is marked outside)');
    assert.is(await listing(rootfs), await listing(src), 'the kept dir holds the tree, its own mode included');
    rmSync(rootfs, { recursive: true });
    // Damaged: not used, the kept dir emptied but there; the entry cannot be dropped from a read-only cache.
    await $`mount -o remount,bind,rw ${view}`;
    writeFileSync(join(view, K('k'), 'tree/usr/bin/tool'), '#!/bin/sh\necho d\n');
    await $`mount -o remount,bind,ro ${view}`;
    mkdirSync(rootfs);
    const { result } = await stderrOf(() => restoreTree(inside, K('k'), rootfs));
    assert.not.ok(result);
    assert.ok(existsSync(rootfs), 'the mount point is kept');
    assert.equal(readdirSync(rootfs), [], 'and emptied');
  } finally {
    await $`umount ${view}`;
  }
  // The build in the container fills the entry dir made outside; outside, it replaces the damaged entry.
  const { tmp, dropCleanup } = await beginEntry(cache);
  assert.not.ok(entryFilled(tmp));
  await fillEntry(tmp, 'debian', src);
  assert.ok(entryFilled(tmp));
  await commitEntry(cache, K('k'), tmp);
  dropCleanup();
  assert.equal(readdirSync(cache.dir).sort(), [CACHE_MARKER, K('k')].sort(), 'the entry replaced, no temporary left');
  const dest = join(scratch, `restore-${n++}`);
  assert.ok(await restoreTree(cache, K('k'), dest));
  assert.is(readFileSync(join(dest, 'usr/bin/tool'), 'utf8'), '#!/bin/sh\necho c\n');
});

test('make clean-cache empties the user cache dir (distro trees, packages, kernels) and nothing beside it', async () => {
  const xdg = join(scratch, 'xdg');
  const ours = treeCacheFor('', 3, { XDG_CACHE_HOME: xdg })!;
  await storeTree(ours, K('k'), 'debian', await tree());
  mkdirSync(join(xdg, 'osbuilder-ts/packages/debian-bookworm-amd64-mmdebstrap'), { recursive: true });
  writeFileSync(join(xdg, 'osbuilder-ts/vmlinuz-test'), 'kernel');
  mkdirSync(join(xdg, 'another-program'));
  writeFileSync(join(xdg, 'another-program/keep'), 'not ours');
  const out = await $({ cwd: scratch, env: { ...process.env, XDG_CACHE_HOME: xdg } })`make -s -f ${join(repoRoot, 'Makefile')} clean-cache`;
  assert.match(out.stdout, /^INFO: Emptied .*osbuilder-ts \(.*distro-trees.*\)$/m);
  assert.equal(readdirSync(join(xdg, 'osbuilder-ts')), []);
  assert.is(readFileSync(join(xdg, 'another-program/keep'), 'utf8'), 'not ours');
});

test('make clean-cache never follows an osbuilder-ts that is a symlink (to $HOME, say)', async () => {
  const xdg = join(scratch, 'xdg-link');
  const home = join(scratch, 'link-home');
  mkdirSync(join(home, 'Documents'), { recursive: true });
  mkdirSync(xdg);
  symlinkSync(home, join(xdg, 'osbuilder-ts'));
  const out = await $({ cwd: scratch, env: { ...process.env, XDG_CACHE_HOME: xdg }, nothrow: true })`make -s -f ${join(repoRoot, 'Makefile')} clean-cache`;
  assert.is.not(out.exitCode, 0);
  assert.match(out.stderr, /^ERROR: .*xdg-link\/osbuilder-ts is not a directory \(a symlink\?\)/m);
  assert.ok(existsSync(join(home, 'Documents')));
});

test.run();
