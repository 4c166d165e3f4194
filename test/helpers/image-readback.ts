// Read a built image's filesystem back without mounting it (debugfs, xfs_db,
// fsck.erofs --extract) as a path -> metadata listing, and the listing the
// rootfs directory should give (independently, with find).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';
import { DEVICE_NODE_TABLE, parseDeviceNodeTable } from '../../lib/core/device-nodes.ts';

export interface Meta {
  type: string; // f d l c b p s
  perm: string; // octal permission bits incl. setuid/setgid/sticky
  uid: number;
  gid: number;
  size?: number; // files and symlinks only
  target?: string;
}
export type Listing = Map<string, Meta>;

const TYPE_OF_MODE: Record<string, string> = { '10': 'f', '04': 'd', '12': 'l', '02': 'c', '06': 'b', '01': 'p', '14': 's' };

function fromMode(modeOctal: string, uid: number, gid: number, size: number): Meta {
  const m = modeOctal.padStart(6, '0');
  const type = TYPE_OF_MODE[m.slice(0, 2)] ?? '?';
  return { type, perm: String(Number.parseInt(m.slice(2), 8).toString(8)), uid, gid, ...(type === 'f' || type === 'l' ? { size } : {}) };
}

async function findListing(root: string): Promise<Listing> {
  const out = (await $`find ${root} -mindepth 1 -printf '%P\\t%y\\t%m\\t%U\\t%G\\t%s\\t%l\\n'`).stdout;
  const map: Listing = new Map();
  for (const line of out.split('\n').filter(Boolean)) {
    const [rel, type, perm, uid, gid, size, target] = line.split('\t') as [string, string, string, string, string, string, string];
    map.set(rel, { type, perm: Number.parseInt(perm, 8).toString(8), uid: +uid, gid: +gid,
      ...(type === 'f' || type === 'l' ? { size: +size } : {}), ...(type === 'l' ? { target } : {}) });
  }
  return map;
}

/** What the image should hold for this rootfs: the tree as it is (no pruning, as upstream main), plus etc/machine-id. */
export async function expectedListing(root: string): Promise<Listing> {
  const map = await findListing(root);
  if (map.get('etc')?.type === 'd' && !map.has('etc/machine-id')) map.set('etc/machine-id', { type: 'f', perm: '644', uid: 0, gid: 0, size: 0 });
  const table = join(root, DEVICE_NODE_TABLE);
  for (const n of existsSync(table) ? parseDeviceNodeTable(readFileSync(table, 'utf8')) : []) {
    if (!map.has(n.rel)) map.set(n.rel, { type: n.type === 'char' ? 'c' : 'b', perm: n.perm.toString(8), uid: n.uid, gid: n.gid });
  }
  return map;
}

/** ext4 via debugfs `ls -p` of every directory (found breadth-first). */
export async function ext4Listing(image: string, offset: number): Promise<Listing> {
  const device = `${image}?offset=${offset}`;
  const map: Listing = new Map();
  let dirs = [''];
  const tmp = mkdtempSync('/tmp/readback-');
  try {
    while (dirs.length) {
      writeFileSync(join(tmp, 'cmds'), dirs.map((d) => `ls -p "/${d}"`).join('\n') + '\n');
      const out = (await $`debugfs -f ${join(tmp, 'cmds')} ${device}`).stdout;
      const next: string[] = [];
      let cur = '';
      for (const line of out.split('\n')) {
        const cmd = line.match(/^debugfs: ls -p "\/(.*)"$/);
        if (cmd) { cur = cmd[1]!; continue; }
        const m = line.match(/^\/(\d+)\/(\d+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/);
        if (!m || m[5] === '.' || m[5] === '..') continue;
        const rel = cur ? `${cur}/${m[5]}` : m[5]!;
        if (rel === 'lost+found') continue;
        const meta = fromMode(m[2]!, +m[3]!, +m[4]!, +(m[6] || 0));
        map.set(rel, meta);
        if (meta.type === 'd') next.push(rel);
      }
      dirs = next;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return map;
}

/** xfs via xfs_db `ls` of every directory, then each entry's inode core. */
export async function xfsListing(fsFile: string): Promise<Listing> {
  const names: string[] = [];
  let dirs = [''];
  const tmp = mkdtempSync('/tmp/readback-');
  const run = async (cmds: string[]) => {
    writeFileSync(join(tmp, 'cmds'), cmds.join('\n') + '\n');
    return (await $`xfs_db -r -f ${fsFile} < ${join(tmp, 'cmds')}`).stdout;
  };
  try {
    while (dirs.length) {
      const out = await run(dirs.flatMap((d) => ['echo @@dir ' + d, `path /${d}`, 'ls']));
      const next: string[] = [];
      let cur = '';
      for (const line of out.split('\n')) {
        if (line.startsWith('@@dir ')) { cur = line.slice(6).trimEnd(); continue; }
        const m = line.match(/^\d+\s+\d+\s+(\w+)\s+0x[0-9a-f]+\s+\d+\s+(.*) \((good|bad)\)$/);
        if (!m || m[2] === '.' || m[2] === '..') continue;
        const rel = cur ? `${cur}/${m[2]}` : m[2]!;
        names.push(rel);
        if (m[1] === 'directory') next.push(rel);
      }
      dirs = next;
    }
    const out = await run(names.flatMap((n) => [`echo @@ ${n}`, `path /${n}`, 'print core.mode core.uid core.gid core.size']));
    const map: Listing = new Map();
    for (const block of out.split('@@ ').slice(1)) {
      const [head, ...lines] = block.split('\n');
      const rel = head!.trimEnd();
      const v = (k: string) => lines.find((l) => l.startsWith(`core.${k} = `))!.split(' = ')[1]!;
      map.set(rel, fromMode(v('mode').replace(/^0/, ''), +v('uid'), +v('gid'), +v('size')));
    }
    return map;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** i_mode of an erofs inode, read raw (dump.erofs and --extract drop setuid/setgid). */
async function erofsMode(fsFile: string, rel: string): Promise<number> {
  const nid = Number((await $`dump.erofs --path=/${rel} ${fsFile}`).stdout.match(/NID: (\d+)/)![1]);
  const raw = readFileSync(fsFile);
  const metaBlkaddr = raw.readUInt32LE(1024 + 40); // erofs_super_block.meta_blkaddr
  return raw.readUInt16LE(metaBlkaddr * 4096 + nid * 32 + 4); // i_mode, compact and extended inodes alike
}

/** erofs via fsck.erofs --extract into a scratch directory; special mode bits read from the inodes. */
export async function erofsListing(fsFile: string, specialModePaths: string[] = []): Promise<Listing> {
  const dir = mkdtempSync('/tmp/readback-');
  try {
    await $`fsck.erofs --force --extract=${join(dir, 'x')} ${fsFile}`;
    const map = await findListing(join(dir, 'x'));
    for (const rel of specialModePaths) {
      const m = map.get(rel);
      if (m) m.perm = ((await erofsMode(fsFile, rel)) & 0o7777).toString(8);
    }
    return map;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Differences between two listings (directory sizes are not compared). */
export function listingDiff(expected: Listing, actual: Listing, opts: { targets?: boolean } = {}): string[] {
  const diffs: string[] = [];
  for (const [rel, e] of expected) {
    const a = actual.get(rel);
    if (!a) { diffs.push(`missing ${rel}`); continue; }
    for (const k of ['type', 'perm', 'uid', 'gid', 'size'] as const) {
      if (e[k] !== a[k]) diffs.push(`${rel}: ${k} ${String(e[k])} != ${String(a[k])}`);
    }
    if (opts.targets && e.target !== a.target) diffs.push(`${rel}: target ${e.target} != ${a.target}`);
  }
  for (const rel of actual.keys()) if (!expected.has(rel)) diffs.push(`unexpected ${rel}`);
  return diffs;
}
