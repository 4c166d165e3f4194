// erofs from the directory (mkfs.erofs reads a tree, no mount), as upstream:
// lz4hc, no inline data. When etc/machine-id or the device nodes of the
// tree's table must be added, mkfs.erofs reads a staged copy instead of the
// rootfs, with the directories' mtimes kept as the tree has them; each node
// goes in as an empty file that erofs-nodes.ts then turns into the node in
// the image (no mknod: the same bytes in a user namespace as for root).
import { statSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { dirname, join } from 'node:path';
import { $ } from '../core/exec.ts';
import { die } from '../core/log.ts';
import type { FsIds } from './fs.ts';
import { MACHINE_ID } from '../core/systemd-prune.ts';
import { showPath } from '../core/show-path.ts';
import { deviceNodeEntries, type RootfsTree } from './tree.ts';
import { retypeErofsStandIns } from './erofs-nodes.ts';
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
  const nodes = deviceNodeEntries(tree);
  const stage = tree.addMachineId || nodes.length ? await stagedCopy(tree.root, scratch) : undefined;
  try {
    const source = stage?.dir ?? tree.root;
    if (stage) {
      const added = [...(tree.addMachineId ? [MACHINE_ID] : []), ...nodes.map((e) => e.rel)];
      const dirs = [...new Set(added.map((rel) => dirname(rel)))].map((d) => [d, statSync(join(stage.dir, d))] as const);
      if (tree.addMachineId) fx.write(join(stage.dir, MACHINE_ID), '', { mode: 0o644 });
      for (const e of nodes) {
        const standIn = join(stage.dir, e.rel);
        fx.write(standIn, '', { mode: e.perm });
        fx.chmod(standIn, e.perm);
        // Only root (of the namespace, too) may give it the node's owner; the retyping writes it anyway.
        if (process.getuid?.() === 0) fx.chown(standIn, e.uid, e.gid);
        fx.touch(standIn, e.mtimeSec, e.mtimeSec);
      }
      for (const [d, st] of dirs) fx.touch(join(stage.dir, d), st.atime, st.mtime);
    }
    const fixed = ids ? [`-U${ids.uuid}`] : [];
    // SOURCE_DATE_EPOCH in its environment makes mkfs.erofs clamp mtimes to it
    // (and use it as the build time); -T would set every mtime to it instead.
    const env = { ...process.env, ...(epoch !== undefined ? { SOURCE_DATE_EPOCH: String(epoch) } : {}) };
    await $({ env })`mkfs.erofs --quiet -zlz4hc -Enoinline_data ${fixed} ${out} ${source}`;
    retypeErofsStandIns(out, nodes);
  } finally {
    stage?.release();
  }
}
