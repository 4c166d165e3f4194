// One walk over the rootfs directory: every entry's metadata, in a stable
// (sorted) order. The image holds the tree as it is (plus an empty
// etc/machine-id): systemd units are pruned by `rootfs.ts -d`, as upstream
// main does since a49d0fb343. Sizing, the xfs protofile, timestamp clamping
// and the reproducibility hash all read it.
// The device nodes the tree's table asks for (lib/core/device-nodes.ts) are
// entries too, marked `deviceNode`: each filesystem writer adds them itself.
// Names are read and kept as bytes (`path`): a name that is not UTF-8 is
// still found by lstat and written exactly; `rel` is its text for messages.
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { fileType, type FileType } from '../core/file-type.ts';
import { MACHINE_ID } from '../core/systemd-prune.ts';
import { die } from '../core/log.ts';
import { makeDev, nodesToAdd } from '../core/device-nodes.ts';
import { showPath } from '../core/show-path.ts';

/** Linux PATH_MAX: the mkfs tools read the tree by path, so no deeper path can be packed. */
export const PATH_MAX = 4096;

type EntryType = FileType;

export interface TreeEntry {
  /** Path relative to the rootfs ('' for the root itself), as text (not-UTF-8 bytes show as U+FFFD). */
  rel: string;
  /** The same path as the exact bytes of the names. */
  path: Buffer;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  perm: number;
  uid: number;
  gid: number;
  size: number;
  /** Bytes allocated on the host (st_blocks * 512). */
  allocated: number;
  dev: number;
  ino: number;
  nlink: number;
  rdev: number;
  mtimeSec: number;
  target?: string;
  /** Symlink target as bytes. */
  targetBytes?: Buffer;
  /** A node of the tree's device-node table, not in the directory: the writer makes it. */
  deviceNode?: true;
}

export interface RootfsTree {
  root: string;
  entries: TreeEntry[];
  /** True when etc/machine-id is missing and the image adds an empty one. */
  addMachineId: boolean;
}

const SLASH = Buffer.from('/');
const abs = (root: Buffer, rel: Buffer) => (rel.length ? Buffer.concat([root, SLASH, rel]) : root);

function toEntry(root: Buffer, rel: Buffer): TreeEntry {
  const path = abs(root, rel);
  if (path.length >= PATH_MAX) {
    die(`/${showPath(rel)} is ${path.length} bytes long with the rootfs path: paths of ${PATH_MAX} bytes (PATH_MAX) or more cannot be packed; shorten the tree or move the rootfs to a shorter path`);
  }
  const st = lstatSync(path, { bigint: false });
  const type = fileType(st);
  const targetBytes = type === 'symlink' ? readlinkSync(path, { encoding: 'buffer' }) : undefined;
  return {
    rel: rel.toString(),
    path: rel,
    type,
    perm: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    allocated: st.blocks * 512,
    dev: st.dev,
    ino: st.ino,
    nlink: st.nlink,
    rdev: st.rdev,
    mtimeSec: Math.floor(st.mtimeMs / 1000),
    ...(targetBytes ? { target: targetBytes.toString(), targetBytes } : {}),
  };
}

/** Walk the tree depth-first in byte order of names. */
export function walkRootfs(root: string): RootfsTree {
  const rootBytes = Buffer.from(root);
  const entries: TreeEntry[] = [];
  const visit = (rel: Buffer) => {
    const e = toEntry(rootBytes, rel);
    entries.push(e);
    if (e.type !== 'dir') return;
    const children = (readdirSync(abs(rootBytes, rel), { withFileTypes: true, encoding: 'buffer' }))
      .sort((a, b) => Buffer.compare(a.name, b.name));
    for (const d of children) visit(rel.length ? Buffer.concat([rel, SLASH, d.name]) : d.name);
  };
  visit(Buffer.alloc(0));
  addDeviceNodes(root, entries);
  const hasEtc = entries.some((e) => e.rel === 'etc' && e.type === 'dir');
  const hasMachineId = entries.some((e) => e.rel === MACHINE_ID);
  return { root, entries, addMachineId: hasEtc && !hasMachineId };
}

/** `e` among the walk's entries where the walk would have met it: after its parent, before its first later sibling's subtree. */
function insertInWalkOrder(entries: TreeEntry[], e: TreeEntry): void {
  const slash = e.path.lastIndexOf(0x2f);
  const parent = slash < 0 ? Buffer.alloc(0) : e.path.subarray(0, slash);
  const prefix = parent.length ? Buffer.concat([parent, SLASH]) : parent;
  let at = entries.findIndex((x) => x.path.equals(parent)) + 1;
  for (; at < entries.length; at++) {
    const p = entries[at]!.path;
    if (!p.subarray(0, prefix.length).equals(prefix)) break;
    if (!p.includes(0x2f, prefix.length) && Buffer.compare(p, e.path) > 0) break;
  }
  entries.splice(at, 0, e);
}

function addDeviceNodes(root: string, entries: TreeEntry[]): void {
  const byRel = new Map(entries.map((e) => [e.rel, e]));
  const { nodes, mtimeSec } = nodesToAdd(root, (rel, type) => (type ? byRel.get(rel)?.type === type : byRel.has(rel)));
  for (const n of nodes) {
    insertInWalkOrder(entries, {
      rel: n.rel, path: Buffer.from(n.rel), type: n.type, perm: n.perm, uid: n.uid, gid: n.gid, size: 0, allocated: 0,
      dev: 0, ino: 0, nlink: 1, rdev: makeDev(n.major, n.minor), mtimeSec, deviceNode: true,
    });
  }
}

/** The entries the writers add themselves (device nodes of the table). */
export const deviceNodeEntries = (tree: RootfsTree): TreeEntry[] => tree.entries.filter((e) => e.deviceNode);

/**
 * A test that is true for a hard-linked entry's first name only (`seen`
 * holds the inodes met so far): sizes count each inode once.
 */
export function isLaterHardLink(e: TreeEntry, seen: Set<string>, types: EntryType[] = ['file', 'symlink', 'char', 'block', 'fifo', 'socket']): boolean {
  if (e.nlink <= 1 || !types.includes(e.type)) return false;
  const key = `${e.dev}:${e.ino}`;
  if (seen.has(key)) return true;
  seen.add(key);
  return false;
}

/** `du -s -B1` of the tree as upstream measures it: hard links counted once. */
export function diskUsageBytes(entries: TreeEntry[]): number {
  const seen = new Set<string>();
  let total = 0;
  for (const e of entries) if (!isLaterHardLink(e, seen)) total += e.allocated;
  return total;
}

/** The entries as they appear in the image: the tree plus an added machine-id, in walk order. */
export function imageEntries(tree: RootfsTree): TreeEntry[] {
  if (!tree.addMachineId) return tree.entries;
  const added: TreeEntry = {
    rel: MACHINE_ID, path: Buffer.from(MACHINE_ID), type: 'file', perm: 0o644, uid: 0, gid: 0, size: 0, allocated: 0,
    dev: 0, ino: 0, nlink: 1, rdev: 0, mtimeSec: Math.floor(Date.now() / 1000),
  };
  const name = MACHINE_ID.slice(MACHINE_ID.indexOf('/') + 1);
  let at = tree.entries.findIndex((e) => e.rel === 'etc') + 1;
  while (at < tree.entries.length && tree.entries[at]!.rel.startsWith('etc/')) {
    const rel = tree.entries[at]!.rel;
    if (!rel.slice(4).includes('/') && rel.slice(4) > name) break;
    at++;
  }
  return [...tree.entries.slice(0, at), added, ...tree.entries.slice(at)];
}
