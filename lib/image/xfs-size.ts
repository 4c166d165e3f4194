// Free space `df` would show on a fresh xfs of a given size, for upstream's
// sizing loop. Formats an empty sparse probe file (no mount) and applies the
// kernel's mount-time reservations: the reserve pool (5%, at most 8192
// blocks) and the per-AG set-aside and btree reservations (measured on this
// kernel as about 4 + agblocks/1000 blocks per AG). xfs needs >= 300 MiB.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { MiB } from './layout.ts';

export const XFS_MIN_MB = 300;
const RESERVE_POOL_MAX = 8192;

export function xfsAvailableFromSb(sb: { fdblocks: number; dblocks: number; agcount: number; agblocks: number }, blockSize: number): number {
  const pool = Math.min(Math.floor(sb.dblocks / 20), RESERVE_POOL_MAX);
  const perAg = 4 + Math.ceil(sb.agblocks / 1000);
  const avail = Math.max(sb.fdblocks - pool - sb.agcount * perAg, 0);
  return Math.ceil((avail * blockSize) / MiB);
}

export async function xfsAvailableMb(partitionBytes: number, blockSize: number, scratch: string): Promise<number> {
  if (partitionBytes < XFS_MIN_MB * MiB) return 0;
  const probe = join(scratch, 'xfs-probe.img');
  try {
    await $`truncate -s ${partitionBytes} ${probe}`;
    await $`mkfs.xfs -q -f -m reflink=0 -b size=${blockSize} ${probe}`;
    const out = (await $`xfs_db -r -c 'sb 0' -c 'print fdblocks dblocks agcount agblocks' ${probe}`).stdout;
    const get = (k: string) => Number(out.match(new RegExp(`${k} = (\\d+)`))![1]);
    return xfsAvailableFromSb({ fdblocks: get('fdblocks'), dblocks: get('dblocks'), agcount: get('agcount'), agblocks: get('agblocks') }, blockSize);
  } finally {
    rmSync(probe, { force: true });
  }
}
