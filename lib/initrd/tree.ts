// From a rootfs directory to the ordered list of initrd archive entries.
// scanTree() reads the tree (names as raw bytes, lstat, link targets);
// planArchive() is pure: sorted names, fixed inode numbering, link counts
// within the archive, hard-linked files' data once (on the last link, as GNU
// cpio does), mtimes clamped to SOURCE_DATE_EPOCH, and `/init` added.
// The tree's table of device nodes (lib/core/device-nodes.ts) adds records
// for the nodes it lacks: the archive holds them, the directory need not.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, devMajor, devMinor, type NewcHeader } from './cpio.ts';
import type { CpioBody } from './cpio-stream.ts';
import { die } from '../core/log.ts';
import { makeDev, nodeModeBits, nodesToAdd } from '../core/device-nodes.ts';
import { showPath } from '../core/show-path.ts';

const PATH_MAX = 4096;

/** What the plan needs to know about one path of the tree. */
export interface TreeRecord {
  /** Path relative to the root, as bytes; empty for the root itself. */
  rel: Buffer;
  /** Absolute path to read the file from. */
  abs: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  rdev: number;
  /** Identity of the inode (dev:ino) for hard links. */
  inode: string;
  /** Symlink target. */
  target?: Buffer;
}

export interface PlannedEntry {
  name: Buffer;
  header: NewcHeader;
  body?: CpioBody;
}

interface PlanOptions {
  /** Clamp every mtime to this (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  /** Add `init -> initTarget` unless the tree has an `init` already. */
  initTarget?: string;
}

const SLASH = Buffer.from('/');
const ROOT_NAME = Buffer.from('.');
const INIT_NAME = Buffer.from('init');

/** Every path under `root` (root first, then unordered), with lstat data. */
export async function scanTree(root: string): Promise<TreeRecord[]> {
  const records: TreeRecord[] = [];
  const visit = async (rel: Buffer, abs: Buffer): Promise<void> => {
    if (abs.length >= PATH_MAX) {
      die(`/${showPath(rel)} is ${abs.length} bytes deep: paths of ${PATH_MAX} bytes or more cannot be packed; shorten the tree`);
    }
    const st = await lstat(abs, { bigint: true });
    const mode = Number(st.mode);
    const record: TreeRecord = {
      rel, abs, mode,
      uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size),
      mtime: Math.floor(Number(st.mtimeMs) / 1000), rdev: Number(st.rdev),
      inode: `${st.dev}:${st.ino}`,
    };
    if ((mode & S_IFMT) === S_IFLNK) record.target = await readlink(abs, { encoding: 'buffer' });
    records.push(record);
    if ((mode & S_IFMT) !== S_IFDIR) return;
    const names = await readdir(abs, { encoding: 'buffer' });
    await Promise.all(names.map((n) => visit(
      rel.length ? Buffer.concat([rel, SLASH, n]) : n,
      Buffer.concat([abs, SLASH, n]),
    )));
  };
  await visit(Buffer.alloc(0), Buffer.from(root));
  return [...records, ...deviceNodeRecords(root, records)];
}

function deviceNodeRecords(root: string, records: TreeRecord[]): TreeRecord[] {
  const byRel = new Map(records.map((r) => [r.rel.toString(), r]));
  const { nodes, mtimeSec } = nodesToAdd(root, (rel, type) => {
    const r = byRel.get(rel);
    return type ? r !== undefined && (r.mode & S_IFMT) === S_IFDIR : r !== undefined;
  });
  return nodes.map((n) => ({
    rel: Buffer.from(n.rel), abs: Buffer.from(`${root}/${n.rel}`), mode: nodeModeBits(n.type) | n.perm,
    uid: n.uid, gid: n.gid, size: 0, mtime: mtimeSec, rdev: makeDev(n.major, n.minor), inode: `device-node:${n.rel}`,
  }));
}

/** newc's mtime is unsigned 32-bit: earlier/later times are clamped (fidelity.ts warns). */
function clampTime(mtime: number, sourceDateEpoch: number | undefined): number {
  const t = Math.min(Math.max(0, mtime), 0xffffffff);
  return sourceDateEpoch === undefined ? t : Math.min(t, sourceDateEpoch);
}

const isType = (mode: number, type: number) => (mode & S_IFMT) === type;

/** The archive's entries, in order, with their headers and body sources. */
export function planArchive(records: TreeRecord[], opts: PlanOptions = {}): PlannedEntry[] {
  const root = records.find((r) => r.rel.length === 0);
  if (!root) throw new Error('planArchive: the tree has no root record');
  const rest = records.filter((r) => r !== root).sort((a, b) => Buffer.compare(a.rel, b.rel));

  const subdirs = new Map<string, number>();
  const links = new Map<string, number>();
  for (const r of rest) {
    if (isType(r.mode, S_IFDIR)) {
      const slash = r.rel.lastIndexOf(SLASH);
      const parent = slash < 0 ? '' : r.rel.subarray(0, slash).toString('latin1');
      subdirs.set(parent, (subdirs.get(parent) ?? 0) + 1);
    } else if (isType(r.mode, S_IFREG)) {
      links.set(r.inode, (links.get(r.inode) ?? 0) + 1);
    }
  }

  const entries: PlannedEntry[] = [];
  const inodeNumbers = new Map<string, number>();
  const linksLeft = new Map(links);
  let nextIno = 1;
  const add = (name: Buffer, r: TreeRecord) => {
    const regular = isType(r.mode, S_IFREG);
    const nlink = regular ? links.get(r.inode)! : isType(r.mode, S_IFDIR) ? 2 + (subdirs.get(r.rel.toString('latin1')) ?? 0) : 1;
    let ino = regular ? inodeNumbers.get(r.inode) : undefined;
    if (ino === undefined) {
      ino = nextIno++;
      if (regular) inodeNumbers.set(r.inode, ino);
    }
    let body: CpioBody | undefined;
    if (r.target) body = r.target;
    else if (regular) {
      const left = linksLeft.get(r.inode)! - 1;
      linksLeft.set(r.inode, left);
      if (left === 0 && r.size > 0) body = { path: r.abs, size: r.size };
    }
    const size = body === undefined ? 0 : Buffer.isBuffer(body) ? body.length : body.size;
    const isDevice = isType(r.mode, S_IFCHR) || isType(r.mode, S_IFBLK);
    entries.push({
      name,
      header: {
        c_ino: ino, c_mode: r.mode, c_uid: r.uid, c_gid: r.gid, c_nlink: nlink,
        c_mtime: clampTime(r.mtime, opts.sourceDateEpoch), c_filesize: size,
        c_devmajor: 0, c_devminor: 0,
        c_rdevmajor: isDevice ? devMajor(r.rdev) : 0, c_rdevminor: isDevice ? devMinor(r.rdev) : 0,
      },
      body,
    });
  };

  add(ROOT_NAME, root);
  const needInit = opts.initTarget !== undefined && !rest.some((r) => r.rel.equals(INIT_NAME));
  const init: TreeRecord | undefined = needInit
    ? { ...root, rel: INIT_NAME, mode: S_IFLNK | 0o777, uid: 0, gid: 0, target: Buffer.from(opts.initTarget!), inode: 'init' }
    : undefined;
  let initAdded = !init;
  for (const r of rest) {
    if (!initAdded && Buffer.compare(INIT_NAME, r.rel) < 0) {
      add(INIT_NAME, init!);
      initAdded = true;
    }
    add(r.rel, r);
  }
  if (!initAdded) add(INIT_NAME, init!);
  return entries;
}
