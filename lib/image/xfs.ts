// xfs without a mount: `mkfs.xfs -p protofile` populates the filesystem from
// a prototype file listing every entry (generated from the tree walk, with
// the image's edits). What a protofile cannot say is fixed afterwards with
// xfs_db: the sticky bit, and (reproducible builds) timestamps. Sockets and
// extended attributes cannot be carried and are reported; hard links become
// separate copies.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import type { FsBuild } from './fs.ts';
import { MACHINE_ID } from '../core/systemd-prune.ts';
import { imageEntries, type TreeEntry } from './tree.ts';
import { die, warn } from '../core/log.ts';

const TYPE_CHAR: Partial<Record<TreeEntry['type'], string>> = {
  file: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p',
};

function protoMode(e: Pick<TreeEntry, 'type' | 'perm'>): string {
  const t = TYPE_CHAR[e.type]!;
  return `${t}${e.perm & 0o4000 ? 'u' : '-'}${e.perm & 0o2000 ? 'g' : '-'}${(e.perm & 0o777).toString(8).padStart(3, '0')}`;
}

const major = (rdev: number) => Math.floor(rdev / 256) & 0xfff | (Math.floor(rdev / 2 ** 32) & ~0xfff);
const minor = (rdev: number) => (rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00));

/** The protofile text for the tree; `emptyFile` is the source of an added machine-id. */
export function xfsProtofile(b: Pick<FsBuild, 'tree'>, emptyFile: string): { text: string; skipped: string[] } {
  const lines = ['osbuilder-ts', '0 0'];
  const skipped: string[] = [];
  const entries = imageEntries(b.tree);
  const stack: string[] = [];
  const depthOf = (rel: string) => (rel ? rel.split('/').length : 0);
  for (const e of entries) {
    const depth = depthOf(e.rel);
    while (stack.length > depth) {
      stack.pop();
      lines.push('$');
    }
    const name = e.rel.slice(e.rel.lastIndexOf('/') + 1);
    if (/\s/.test(name) || name.startsWith(':') || (e.target !== undefined && /\s/.test(e.target))) {
      die(`cannot put ${e.rel} into an xfs image: names and link targets with spaces do not fit mkfs.xfs's protofile; use FS_TYPE=ext4 or erofs`);
    }
    if (e.type === 'socket') {
      skipped.push(e.rel);
      continue;
    }
    const head = `${e.rel ? `${name} ` : ''}${protoMode(e)} ${e.uid} ${e.gid}`;
    if (e.type === 'file') lines.push(`${head} ${e.rel === MACHINE_ID && b.tree.addMachineId ? emptyFile : join(b.tree.root, e.rel)}`);
    else if (e.type === 'symlink') lines.push(`${head} ${e.target}`);
    else if (e.type === 'char' || e.type === 'block') lines.push(`${head} ${major(e.rdev)} ${minor(e.rdev)}`);
    else lines.push(head);
    if (e.type === 'dir') stack.push(e.rel);
  }
  while (stack.length) {
    stack.pop();
    lines.push('$');
  }
  return { text: lines.join('\n') + '\n', skipped };
}

/** xfs_db commands fixing what the protofile cannot express. */
export function xfsFixups(b: Pick<FsBuild, 'tree' | 'epoch'>): string[] {
  const cmds: string[] = [];
  const pinTimes = (mtime: number) =>
    (['core.atime', 'core.mtime', 'core.ctime', 'v3.crtime'] as const).flatMap((field) => [
      `write ${field}.sec ${field === 'core.mtime' ? mtime : b.epoch}`,
      `write ${field}.nsec 0`,
    ]);
  if (b.epoch !== undefined) {
    // mkfs's own realtime bitmap and summary inodes carry the build time too.
    for (const field of ['rbmino', 'rsumino']) cmds.push('sb 0', `addr ${field}`, ...pinTimes(b.epoch));
  }
  for (const e of imageEntries(b.tree)) {
    if (e.type === 'socket') continue;
    const p = `/${e.rel}`;
    const sticky = e.perm & 0o1000;
    if (!sticky && b.epoch === undefined) continue;
    cmds.push(`path ${p}`);
    if (sticky) cmds.push(`write core.mode 0${(0o40000 | e.perm).toString(8)}`);
    if (b.epoch !== undefined) cmds.push(...pinTimes(Math.min(e.mtimeSec, b.epoch)));
  }
  return cmds;
}

export async function buildXfs(b: FsBuild): Promise<void> {
  const emptyFile = join(b.scratch, 'empty');
  writeFileSync(emptyFile, '', { mode: 0o644 });
  const { text, skipped } = xfsProtofile(b, emptyFile);
  if (skipped.length) warn(`xfs protofiles cannot hold sockets; left out: ${skipped.join(', ')}`);
  const proto = join(b.scratch, 'xfs.proto');
  writeFileSync(proto, text);
  const fsFile = join(b.scratch, 'xfs.img');
  await $`truncate -s ${b.region.bytes} ${fsFile}`;
  const meta = ['reflink=0', ...(b.ids ? [`uuid=${b.ids.uuid}`] : [])].join(',');
  await $`mkfs.xfs -q -f -m ${meta} -b size=${b.blockSize} -p ${proto} ${fsFile}`;
  const fixups = xfsFixups(b);
  if (fixups.length) {
    const script = join(b.scratch, 'xfs_db.cmds');
    writeFileSync(script, fixups.join('\n') + '\n');
    const out = await $({ nothrow: true })`xfs_db -x -f ${fsFile} < ${script}`;
    const problem = `${out.stderr}\n${out.stdout}`.split('\n').find((l) => /not found|parsing error|no current|No such|invalid/i.test(l));
    if (out.exitCode !== 0 || problem) die(`fixing up the xfs image with xfs_db failed: ${problem ?? `exit ${out.exitCode}`}`);
  }
  const check = await $({ nothrow: true })`xfs_repair -n -f ${fsFile}`;
  if (check.exitCode !== 0) die(`xfs_repair found problems in the new xfs filesystem: ${check.stderr.trim().split('\n').pop()}`);
  await $`dd if=${fsFile} of=${b.image} bs=1M seek=${b.region.offset} oflag=seek_bytes conv=notrunc,sparse status=none`;
}
