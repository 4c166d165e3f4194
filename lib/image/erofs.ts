// erofs from the directory (mkfs.erofs reads a tree, no mount), as upstream:
// lz4hc, no inline data. When etc/machine-id must be added, mkfs.erofs reads
// a staged copy instead of the rootfs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import type { FsIds } from './fs.ts';
import { MACHINE_ID } from '../core/systemd-prune.ts';
import type { RootfsTree } from './tree.ts';
import { stagedCopy } from './erofs-stage.ts';

export async function buildErofsFile(
  tree: RootfsTree,
  out: string,
  scratch: string,
  epoch?: number,
  ids?: FsIds,
): Promise<void> {
  const stage = tree.addMachineId ? await stagedCopy(tree.root, scratch) : undefined;
  try {
    const source = stage?.dir ?? tree.root;
    if (stage) writeFileSync(join(stage.dir, MACHINE_ID), '', { mode: 0o644 });
    const fixed = [...(ids ? [`-U${ids.uuid}`] : []), ...(epoch !== undefined ? [`-T${epoch}`] : [])];
    await $`mkfs.erofs --quiet -zlz4hc -Enoinline_data ${fixed} ${out} ${source}`;
  } finally {
    stage?.release();
  }
}
