// The distro-tree cache on small trees made here: a stored tree comes back
// identical, a damaged or half-written entry is never used, the least
// recently used entry is evicted first, and DISTRO_CACHE_DIR is checked.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { entriesByUse, hasEntry, restoreTree, storeTree, treeCacheFor, treeStats, type TreeCache } from '../../lib/rootfs/tree-cache.ts';
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

const listing = async (root: string) => (await $`cd ${root} && find . -printf '%p %y %m %U:%G %s %l\n' | sort`).stdout;
const cacheIn = (name: string, maxEntries = 3): TreeCache => ({ dir: join(scratch, name), maxEntries });

test('DISTRO_CACHE_DIR: default under XDG_CACHE_HOME, no turns it off, a relative path is refused', () => {
  assert.equal(treeCacheFor('', 3, { XDG_CACHE_HOME: '/c' }), { dir: '/c/osbuilder-ts/distro-trees', maxEntries: 3 });
  assert.equal(treeCacheFor('/srv/trees', 5), { dir: '/srv/trees', maxEntries: 5 });
  assert.is(treeCacheFor('no', 3), undefined);
  assert.throws(() => treeCacheFor('trees', 3), isBuildError(/DISTRO_CACHE_DIR=trees is not an absolute path/));
});

test('a stored tree comes back with the same paths, types, modes, owners, sizes and link targets', async () => {
  const cache = cacheIn('roundtrip');
  const src = await tree();
  await storeTree(cache, 'k1', 'fedora', src);
  assert.ok(hasEntry(cache, 'k1'));
  assert.equal(readdirSync(cache.dir), ['k1'], 'no temporary left');
  const record = JSON.parse(readFileSync(join(cache.dir, 'k1/entry.json'), 'utf8'));
  assert.equal({ paths: record.paths, bytes: record.bytes, distro: record.distro }, { ...treeStats(src), distro: 'fedora' });
  const dest = join(scratch, 'restored');
  assert.ok(await restoreTree(cache, 'k1', dest));
  assert.is(await listing(dest), await listing(src));
  assert.is(readFileSync(join(dest, 'usr/bin/tool'), 'utf8'), readFileSync(join(src, 'usr/bin/tool'), 'utf8'));
  assert.not.ok(await restoreTree(cache, 'other', join(scratch, 'nothing')), 'no entry: false');
  assert.not.ok(existsSync(join(scratch, 'nothing')));
});

test('a truncated or half-written entry is ignored and dropped, never copied out', async () => {
  const cache = cacheIn('damaged');
  const damages: [string, (entry: string) => void][] = [
    ['a truncated file', (e) => truncateSync(join(e, 'tree/usr/bin/tool'), 3)],
    ['a missing file', (e) => unlinkSync(join(e, 'tree/etc-shadow'))],
    ['a file grown', (e) => appendFileSync(join(e, 'tree/etc-shadow'), 'more')],
    ['no entry.json (written last)', (e) => unlinkSync(join(e, 'entry.json'))],
    ['an unreadable entry.json', (e) => writeFileSync(join(e, 'entry.json'), '{"format":1,"paths":')],
  ];
  for (const [what, damage] of damages) {
    await storeTree(cache, 'k', 'fedora', await tree());
    damage(join(cache.dir, 'k'));
    const dest = join(scratch, `restore-${n++}`);
    assert.not.ok(await restoreTree(cache, 'k', dest), what);
    assert.not.ok(existsSync(dest), `${what}: nothing copied`);
    assert.not.ok(hasEntry(cache, 'k'), `${what}: the entry is dropped, so the next build stores a good one`);
  }
  // A write that died before its rename leaves only a temporary, which is no entry and is swept.
  mkdirSync(join(cache.dir, '.tmp-999999/tree'), { recursive: true });
  assert.equal(entriesByUse(cache), []);
  await storeTree(cache, 'k', 'fedora', await tree());
  assert.equal(readdirSync(cache.dir), ['k']);
});

test('the limit evicts the least recently used entry; a use counts as recent', async () => {
  const cache = cacheIn('lru', 2);
  const age = (key: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(cache.dir, key, 'entry.json'), t, t);
  };
  await storeTree(cache, 'a', 'fedora', await tree('a'));
  age('a', 30);
  await storeTree(cache, 'b', 'centos', await tree('b'));
  age('b', 20);
  assert.ok(await restoreTree(cache, 'a', join(scratch, `restore-${n++}`)), 'a used: now the most recent');
  await storeTree(cache, 'c', 'debian', await tree('c'));
  assert.equal(entriesByUse(cache).sort(), ['a', 'c'], 'b, the least recently used, is evicted');
  // The entry just stored is never the one evicted, even when older ones were used later.
  age('c', 60);
  await storeTree(cache, 'd', 'debian', await tree('d'));
  assert.equal(entriesByUse(cache).sort(), ['a', 'd']);
});

test('storing a key again replaces its entry', async () => {
  const cache = cacheIn('replace');
  await storeTree(cache, 'k', 'fedora', await tree('old'));
  await storeTree(cache, 'k', 'fedora', await tree('new'));
  const dest = join(scratch, `restore-${n++}`);
  assert.ok(await restoreTree(cache, 'k', dest));
  assert.match(readFileSync(join(dest, 'usr/bin/tool'), 'utf8'), /new/);
  assert.equal(readdirSync(cache.dir), ['k']);
});

test('make clean-cache empties the user cache dir (distro trees, packages, kernels) and nothing beside it', async () => {
  const xdg = join(scratch, 'xdg');
  const ours = treeCacheFor('', 3, { XDG_CACHE_HOME: xdg })!;
  await storeTree(ours, 'k', 'debian', await tree());
  mkdirSync(join(xdg, 'osbuilder-ts/packages/debian-bookworm-amd64-mmdebstrap'), { recursive: true });
  writeFileSync(join(xdg, 'osbuilder-ts/vmlinuz-test'), 'kernel');
  mkdirSync(join(xdg, 'another-program'));
  writeFileSync(join(xdg, 'another-program/keep'), 'not ours');
  const out = await $({ cwd: scratch, env: { ...process.env, XDG_CACHE_HOME: xdg } })`make -s -f ${join(repoRoot, 'Makefile')} clean-cache`;
  assert.match(out.stdout, /^INFO: Emptied .*osbuilder-ts \(.*distro-trees.*\)$/m);
  assert.equal(readdirSync(join(xdg, 'osbuilder-ts')), []);
  assert.is(readFileSync(join(xdg, 'another-program/keep'), 'utf8'), 'not ours');
});

test.run();
