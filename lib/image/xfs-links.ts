// Hard links for the protofile route. mkfs.xfs 6.1's protofile has no hard
// links, so every further name of a linked file is written as an empty file
// (from /dev/null); this xfs_db pass then points those names' directory
// entries at the first name's inode, sets its link count, and clears the
// empty stand-ins, whose inodes `xfs_repair` returns to the free map. All
// deterministic: the same tree gives the same bytes.
import { fx } from '../core/effects.ts';
import { dirname, join } from 'node:path';
import { $, failureSummary } from '../core/exec.ts';
import { die } from '../core/log.ts';
import type { TreeEntry } from './tree.ts';

interface LinkGroup {
  /** The name mkfs writes the data under. */
  first: string;
  /** The further names, written as empty stand-ins. */
  others: string[];
}

/** Names of the same inode in the tree, in walk order (links to outside the tree do not count). */
export function linkGroups(entries: TreeEntry[]): LinkGroup[] {
  const byInode = new Map<string, string[]>();
  for (const e of entries) {
    if (e.type !== 'file' || e.nlink < 2) continue;
    const key = `${e.dev}:${e.ino}`;
    byInode.set(key, [...(byInode.get(key) ?? []), e.rel]);
  }
  return [...byInode.values()].filter((names) => names.length > 1).map(([first, ...others]) => ({ first: first!, others }));
}

async function xfsDb(fsFile: string, scratch: string, cmds: string[], write = false): Promise<string> {
  const script = join(scratch, 'xfs_db-links.cmds');
  fx.write(script, cmds.join('\n') + '\n');
  const out = write ? await $({ nothrow: true })`xfs_db -x -f ${fsFile} < ${script}` : await $({ nothrow: true })`xfs_db -r -f ${fsFile} < ${script}`;
  if (out.exitCode !== 0) die(`making hard links in the xfs image with xfs_db failed: ${failureSummary(out)}`);
  return out.stdout;
}

/** Where a name's directory entry sits: the commands that select its block, and the field. */
interface EntrySlot {
  select: string[];
  field: string;
}

async function entrySlots(fsFile: string, scratch: string, blockSize: number, names: string[]): Promise<Map<string, EntrySlot>> {
  const dirs = [...new Set(names.map((n) => dirname(n)))];
  const at = (d: string) => (d === '.' ? '/' : `/${d}`);
  const head = await xfsDb(fsFile, scratch, dirs.flatMap((d) => [`echo @@ ${d}`, `path ${at(d)}`, 'print core.format core.size']));
  const cmds: string[] = [];
  for (const block of head.split('@@ ').slice(1)) {
    const [dRaw, ...lines] = block.split('\n');
    const d = dRaw!.trimEnd(); // xfs_db's echo adds a space
    const local = lines.some((l) => /^core\.format = 1 /.test(l));
    const size = Number(lines.find((l) => l.startsWith('core.size = '))!.split(' = ')[1]);
    if (local) cmds.push(`echo @@ ${d} local`, `path ${at(d)}`, 'print u3.sfdir3');
    else for (let k = 0; k * blockSize < size; k++) cmds.push(`echo @@ ${d} ${k}`, `path ${at(d)}`, `dblock ${k}`, 'print');
  }
  const slots = new Map<string, EntrySlot>();
  for (const block of (await xfsDb(fsFile, scratch, cmds)).split('@@ ').slice(1)) {
    const [hRaw, ...lines] = block.split('\n');
    const h = hRaw!.trimEnd();
    const [d, where] = [h.slice(0, h.lastIndexOf(' ')), h.slice(h.lastIndexOf(' ') + 1)];
    for (const l of lines) {
      const m = /^(u3\.sfdir3\.list|[bd]u)\[(\d+)\]\.name = "(.*)"$/.exec(l);
      if (!m) continue;
      const rel = d === '.' ? m[3]! : `${d}/${m[3]}`;
      const inumber = lines.find((x) => x.startsWith(`${m[1]}[${m[2]}].inumber`))!.split(' = ')[0]!;
      const select = where === 'local' ? [`path ${at(d)}`] : [`path ${at(d)}`, `dblock ${where}`];
      slots.set(rel, { select, field: inumber });
    }
  }
  return slots;
}

/** Turn the stand-ins into links; the caller runs xfs_repair afterwards to free their inodes. */
export async function linkXfs(fsFile: string, scratch: string, blockSize: number, groups: LinkGroup[]): Promise<void> {
  const all = groups.flatMap((g) => [g.first, ...g.others]);
  const inoOut = await xfsDb(fsFile, scratch, all.flatMap((n) => [`echo @@ ${n}`, `path /${n}`, 'inode']));
  const ino = new Map<string, number>();
  for (const block of inoOut.split('@@ ').slice(1)) {
    const [nRaw, ...lines] = block.split('\n');
    const n = nRaw!.trimEnd();
    const m = /current inode number is (\d+)/.exec(lines.join('\n'));
    if (!m) die(`making hard links in the xfs image: ${n} not found`);
    ino.set(n, Number(m[1]));
  }
  const slots = await entrySlots(fsFile, scratch, blockSize, groups.flatMap((g) => g.others));
  const cmds: string[] = [];
  for (const g of groups) {
    const target = ino.get(g.first)!;
    for (const other of g.others) {
      const slot = slots.get(other) ?? die(`making hard links in the xfs image: no directory entry found for ${other}`);
      cmds.push(`inode ${ino.get(other)}`, 'write core.mode 0', 'write core.nlinkv2 0');
      cmds.push(...slot.select, `write ${slot.field} ${target}`);
    }
    cmds.push(`inode ${target}`, `write core.nlinkv2 ${g.others.length + 1}`);
  }
  await xfsDb(fsFile, scratch, cmds, true);
}
