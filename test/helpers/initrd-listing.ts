// Listings to compare an initrd with the tree it was made from: path, type,
// mode, owner, size, link target and a content hash per path, hard links
// resolved (in newc the data rides on one of the links).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { S_IFLNK, S_IFMT, S_IFREG, parseNewc, type NewcMember } from '../../lib/initrd/cpio.ts';
import { $ } from '../../lib/core/exec.ts';
import { DEVICE_NODE_TABLE, parseDeviceNodeTable } from '../../lib/core/device-nodes.ts';

export interface ListedPath {
  mode: string;
  uid: number;
  gid: number;
  size: number;
  target?: string;
  sha?: string;
  rdev?: string;
}

export type Listing = Map<string, ListedPath>;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** The uncompressed archive of an initrd (gzip, zstd or plain cpio). */
export async function initrdArchive(path: string): Promise<Buffer> {
  const head = readFileSync(path).subarray(0, 4);
  if (head[0] === 0x1f && head[1] === 0x8b) return gunzipSync(readFileSync(path));
  if (head.readUInt32LE(0) === 0xfd2fb528) {
    // zx decodes stdout as text: go through a file for binary output.
    const tmp = join(tmpdir(), `initrd-${process.pid}.cpio`);
    try {
      await $`zstd -q -d -f -o ${tmp} ${path}`;
      return readFileSync(tmp);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return readFileSync(path);
}

export async function initrdMembers(path: string): Promise<NewcMember[]> {
  return parseNewc(await initrdArchive(path));
}

/** Listing of archive members (hard-link data shared across the links). */
export function archiveListing(members: NewcMember[]): Listing {
  const dataOf = new Map<number, Buffer>();
  for (const m of members) if ((m.c_mode & S_IFMT) === S_IFREG && m.c_filesize > 0) dataOf.set(m.c_ino, m.body);
  const out: Listing = new Map();
  for (const m of members) {
    const type = m.c_mode & S_IFMT;
    const data = type === S_IFREG ? dataOf.get(m.c_ino) ?? Buffer.alloc(0) : m.body;
    out.set(m.name, {
      mode: m.c_mode.toString(8),
      uid: m.c_uid,
      gid: m.c_gid,
      size: type === S_IFREG || type === S_IFLNK ? data.length : 0,
      ...(type === S_IFLNK ? { target: data.toString() } : {}),
      ...(type === S_IFREG ? { sha: sha(data) } : {}),
      ...(m.c_rdevmajor || m.c_rdevminor ? { rdev: `${m.c_rdevmajor}:${m.c_rdevminor}` } : {}),
    });
  }
  return out;
}

/** Listing of a directory tree, named as in the archive ("." for the root). */
export async function treeListing(root: string): Promise<Listing> {
  const out: Listing = new Map();
  const visit = async (rel: string) => {
    const abs = rel === '.' ? root : join(root, rel);
    const st = await lstat(abs);
    const type = st.mode & S_IFMT;
    const target = type === S_IFLNK ? await readlink(abs) : undefined;
    const rdev = st.rdev ? `${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & ~0xff)}` : undefined;
    out.set(rel, {
      mode: st.mode.toString(8),
      uid: st.uid,
      gid: st.gid,
      size: type === S_IFREG || type === S_IFLNK ? (target !== undefined ? Buffer.byteLength(target) : st.size) : 0,
      ...(target !== undefined ? { target } : {}),
      ...(type === S_IFREG ? { sha: sha(await readFile(abs)) } : {}),
      ...(rdev ? { rdev } : {}),
    });
    if (st.isDirectory()) {
      for (const name of await readdir(abs)) await visit(rel === '.' ? name : `${rel}/${name}`);
    }
  };
  await visit('.');
  // The nodes of the tree's device-node table it lacks: initrd.ts adds them.
  const table = join(root, DEVICE_NODE_TABLE);
  for (const n of existsSync(table) ? parseDeviceNodeTable(readFileSync(table, 'utf8')) : []) {
    if (!out.has(n.rel)) out.set(n.rel, { mode: ((n.type === 'char' ? 0o20000 : 0o60000) | n.perm).toString(8), uid: n.uid, gid: n.gid, size: 0, rdev: `${n.major}:${n.minor}` });
  }
  return out;
}

/** Human-readable differences between two listings (empty when equal). */
export function listingDiff(expected: Listing, actual: Listing, limit = 20): string[] {
  const diffs: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (!got) diffs.push(`missing: ${path}`);
    else if (JSON.stringify(got) !== JSON.stringify(want)) diffs.push(`${path}: want ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) diffs.push(`extra: ${path}`);
  return diffs.slice(0, limit);
}
