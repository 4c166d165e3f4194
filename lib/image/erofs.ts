// erofs from the directory (mkfs.erofs reads a tree, no mount), as upstream:
// lz4hc, no inline data. When etc/machine-id must be added, mkfs.erofs
// reads a staged copy instead of the rootfs, with etc's mtime kept as the
// tree has it.
import { statSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { die } from '../core/log.ts';
import type { FsIds } from './fs.ts';
import { MACHINE_ID } from '../core/systemd-prune.ts';
import { showPath } from '../core/show-path.ts';
import type { RootfsTree } from './tree.ts';
import { stagedCopy, sweepLegacyStages } from './erofs-stage.ts';

/** mkfs.erofs 1.5 fails ("Could not format the device") on a name of 255 bytes, which ext4 holds. */
const EROFS_MAX_NAME = 254;

/** Refuse, before any work, a tree mkfs.erofs cannot hold. */
function checkErofsCanHold(tree: RootfsTree, epoch?: number): void {
  // mkfs.erofs 1.5 clamps to SOURCE_DATE_EPOCH reading mtimes as unsigned: one before 1970 would become the epoch.
  const early = epoch === undefined ? undefined : tree.entries.find((e) => e.mtimeSec < 0);
  if (early) {
    die(`/${showPath(early.path)} has an mtime before 1970 (${early.mtimeSec}), which mkfs.erofs here turns into SOURCE_DATE_EPOCH: use FS_TYPE=ext4, or build erofs without SOURCE_DATE_EPOCH`);
  }
  for (const e of tree.entries) {
    const name = e.path.subarray(e.path.lastIndexOf(0x2f) + 1);
    if (name.length > EROFS_MAX_NAME) {
      die(`/${showPath(e.path)} has a ${name.length}-byte name: mkfs.erofs here holds names up to ${EROFS_MAX_NAME} bytes; rename it or use FS_TYPE=ext4`);
    }
  }
}

export async function buildErofsFile(
  tree: RootfsTree,
  out: string,
  scratch: string,
  epoch?: number,
  ids?: FsIds,
): Promise<void> {
  checkErofsCanHold(tree, epoch);
  await sweepLegacyStages(tree.root);
  const stage = tree.addMachineId ? await stagedCopy(tree.root, scratch) : undefined;
  try {
    const source = stage?.dir ?? tree.root;
    if (stage) {
      const etc = statSync(join(stage.dir, 'etc'));
      fx.write(join(stage.dir, MACHINE_ID), '', { mode: 0o644 });
      fx.touch(join(stage.dir, 'etc'), etc.atime, etc.mtime);
    }
    const fixed = ids ? [`-U${ids.uuid}`] : [];
    // SOURCE_DATE_EPOCH in its environment makes mkfs.erofs clamp mtimes to it
    // (and use it as the build time); -T would set every mtime to it instead.
    const env = { ...process.env, ...(epoch !== undefined ? { SOURCE_DATE_EPOCH: String(epoch) } : {}) };
    await $({ env })`mkfs.erofs --quiet -zlz4hc -Enoinline_data ${fixed} ${out} ${source}`;
  } finally {
    stage?.release();
  }
}
