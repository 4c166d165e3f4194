// The device nodes a tree asks its packers for, kept in the tree as a table
// (DEVICE_NODE_TABLE), not as nodes: a user namespace (a rootless build)
// cannot mknod, so no build makes them, and every packer (ext4, xfs, erofs,
// initrd) writes the table's nodes into what it packs, the same way for a
// root and a rootless build. A node the tree holds itself wins; a tree
// without the table packs as it is. The table lives in the directory it
// fills (dev/ keeps through the setup, which empties var/lib), where the
// guest's devtmpfs covers it at boot.
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { die } from './log.ts';

export const DEVICE_NODE_TABLE = 'dev/.osbuilder-device-nodes';

export interface DeviceNode {
  /** Path in the tree, e.g. dev/console. */
  rel: string;
  type: 'char' | 'block';
  major: number;
  minor: number;
  /** Permission bits. */
  perm: number;
  uid: number;
  gid: number;
}

/** The letter mknod, debugfs and the table write for a node's type ('char' or 'block'). */
export const nodeLetter = (type: string): 'c' | 'b' => (type === 'char' ? 'c' : 'b');
/** A node's file-type bits in st_mode (S_IFCHR, S_IFBLK). */
export const nodeModeBits = (type: string): number => (type === 'char' ? 0o020000 : 0o060000);

const HEADER = '# path type(c|b) major minor mode uid gid: device nodes the packers (image.ts, initrd.ts) add to the image\n';

export function deviceNodeTableText(nodes: DeviceNode[]): string {
  return HEADER + nodes.map((n) => `${n.rel} ${nodeLetter(n.type)} ${n.major} ${n.minor} ${n.perm.toString(8).padStart(4, '0')} ${n.uid} ${n.gid}\n`).join('');
}

/** Linux's dev_t encoding (glibc makedev), as lstat reports st_rdev. */
export const makeDev = (major: number, minor: number): number =>
  (minor & 0xff) + (major & 0xfff) * 0x100 + Math.floor(minor / 0x100) * 0x100000 + Math.floor(major / 0x1000) * 0x1000 * 0x100000000;

const LINE = /^([A-Za-z0-9_.+-]+(?:\/[A-Za-z0-9_.+-]+)*) ([cb]) (\d{1,4}) (\d{1,7}) ([0-7]{3,4}) (\d{1,10}) (\d{1,10})$/;

export function parseDeviceNodeTable(text: string, where = DEVICE_NODE_TABLE): DeviceNode[] {
  const nodes: DeviceNode[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim() || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m || m[1]!.split('/').some((p) => p === '.' || p === '..')) {
      die(`${where} line ${i + 1} is not "PATH c|b MAJOR MINOR MODE UID GID" (${JSON.stringify(line)}): fix or remove the line`);
    }
    nodes.push({ rel: m[1]!, type: m[2] === 'c' ? 'char' : 'block', major: Number(m[3]), minor: Number(m[4]), perm: parseInt(m[5]!, 8) & 0o7777, uid: Number(m[6]), gid: Number(m[7]) });
  }
  return nodes;
}

/**
 * The table's nodes the tree lacks (`has`: whether the tree holds a path),
 * with the table's mtime for theirs; none when the tree has no table. A node
 * whose directory the tree lacks is refused: the packers add nodes, not directories.
 */
export function nodesToAdd(root: string, has: (rel: string, type?: 'dir') => boolean): { nodes: DeviceNode[]; mtimeSec: number } {
  const file = join(root, DEVICE_NODE_TABLE);
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return { nodes: [], mtimeSec: 0 };
  }
  if (!st.isFile()) die(`${DEVICE_NODE_TABLE} in the rootfs is not a regular file: remove it, or make it the table of device nodes to add`);
  const nodes = parseDeviceNodeTable(readFileSync(file, 'utf8')).filter((n) => !has(n.rel));
  for (const n of nodes) {
    const dir = n.rel.slice(0, n.rel.lastIndexOf('/'));
    if (dir && !has(dir, 'dir')) die(`${DEVICE_NODE_TABLE} lists ${n.rel}, but the rootfs has no directory ${dir}: create it, or remove the line`);
  }
  return { nodes, mtimeSec: Math.floor(st.mtimeMs / 1000) };
}
