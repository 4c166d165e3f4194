// Nothing lost in an initrd (README "Every path, every field"): the hostile
// tree, given through a symlink to it, packed by initrd.ts, extracted with GNU
// `cpio -idm` and compared field by field. What newc cannot hold is said:
// one WARNING for xattrs (counted and named), one for mtimes before 1970 and
// one for mtimes after 2106 (clamped); directory and symlink mtimes, which
// cpio -idm does not restore, are read from the archive headers.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { compareSnapshots, makeHostileTree, snapshotTree, TIMES } from '../helpers/hostile-tree.ts';
import { repoRoot } from '../helpers/image-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-initrd-fidelity-');
test.after(() => rmSync(work, { recursive: true, force: true }));

function runInitrdTs(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['INITRD_IMAGE', 'AGENT_INIT', 'AGENT_BIN', 'INITRD_COMPRESSION', 'SOURCE_DATE_EPOCH', 'USE_DOCKER', 'USE_PODMAN'].includes(k)));
  return $({ nothrow: true, cwd: repoRoot, env: { ...clean, ...env } })`${join(repoRoot, 'node_modules/.bin/tsx')} ${join(repoRoot, 'initrd.ts')} ${args}`;
}

/** name (latin1 key) -> c_mtime, from the archive's own headers. */
function headerMtimes(archive: Buffer): Map<string, number> {
  const out = new Map<string, number>();
  for (let off = 0; off < archive.length;) {
    const f = (i: number) => Number.parseInt(archive.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const namesize = f(11);
    const filesize = f(6);
    const name = archive.subarray(off + 110, off + 110 + namesize - 1).toString('latin1');
    if (name === 'TRAILER!!!') return out;
    out.set(name, f(5));
    if (!(namesize > 0)) break;
    off += 110 + namesize;
    off += (4 - (off % 4)) % 4;
    off += filesize;
    off += (4 - (off % 4)) % 4;
  }
  throw new Error('no cpio trailer');
}

test('initrd: a linked rootfs packs its tree; every path and field comes back from cpio -idm; losses warned', async () => {
  const root = join(work, 'rootfs');
  const t = await makeHostileTree(root, { sparseBytes: 16 << 20 });
  const tree = snapshotTree(root);
  symlinkSync(root, join(work, 'link'));
  const out = join(work, 'initrd.img');
  // The tree's init is the agent (no systemd): AGENT_INIT=yes, so /init -> /sbin/init.
  const r = await runInitrdTs(['-o', out, join(work, 'link')], { AGENT_INIT: 'yes' });
  assert.is(r.exitCode, 0, r.stderr);

  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('WARNING: a newc initrd cannot hold')); // (the SBOM's own warning aside)
  assert.is(warnings.length, 3, r.stderr);
  assert.match(warnings.find((w) => w.includes('extended attributes'))!, new RegExp(`cannot hold extended attributes: ${t.xattrPaths.length} path\\(s\\) lose theirs: .*/etc/acl-file \\(system.posix_acl_access\\)`));
  assert.match(warnings.find((w) => w.includes('before 1970'))!, /3 path\(s\) get 1970-01-01 \(\/times\/pre1970, \/times\/pre1970-dir, \/times\/pre1970-link\)/);
  assert.match(warnings.find((w) => w.includes('after 2106'))!, /1 path\(s\) get that date \(\/times\/year2200\)/);

  const x = join(work, 'x');
  mkdirSync(x);
  const archive = gunzipSync(readFileSync(out));
  await $({ cwd: x, input: archive })`cpio -idm --quiet`;
  const back = snapshotTree(x);
  const newcTimes = { min: 0, max: 0xffffffff };
  const skip = (k: string) => k === 'init';
  assert.equal(compareSnapshots(tree, back, { xattrs: false, mtime: newcTimes, mtimeSkipTypes: ['d', 'l'], skip }), []);
  assert.is(back.get('init')?.type, 'l');

  const headers = headerMtimes(archive);
  const clamp = (t: number) => Math.min(Math.max(t, 0), 0xffffffff);
  for (const [k, e] of tree) {
    if (e.type === 'd' || e.type === 'l') assert.is(headers.get(k), clamp(e.mtime), `header mtime of ${k}`);
  }
  assert.is(headers.get('times/pre1970-dir'), 0);
  assert.is(headers.get('times'), TIMES.year2100 + 1);
});

test.run();
