// A private copy of the rootfs for mkfs.erofs when the image must hold a file
// the tree lacks (etc/machine-id): mkfs.erofs 1.5 cannot add files, and the
// rootfs is only ever read. The copy is a real one (cp -a, xattrs diagnosed),
// inside the build's scratch directory next to the output: no hard link
// into the rootfs (which would change its files' ctime and link counts), no
// sibling of the rootfs; a killed run's scratch is swept by the next build
// of the same output. Costs the tree's size in disk and a copy's time, only
// when machine-id is missing.
import { basename, dirname, join } from 'node:path';
import { fx } from '../core/effects.ts';
import { onCleanup } from '../core/cli.ts';
import { $ } from '../core/exec.ts';
import { removeStaleTemps } from '../core/stale-temps.ts';

/** Earlier versions staged hard links beside the rootfs: remove those a dead run left. */
export async function sweepLegacyStages(root: string): Promise<void> {
  await removeStaleTemps(dirname(root), `.${basename(root)}.image-stage-`);
}

export async function stagedCopy(root: string, scratch: string): Promise<{ dir: string; release: () => void }> {
  const dir = join(scratch, 'stage');
  const drop = () => fx.remove(dir, { recursive: true, force: true });
  const undo = onCleanup(drop);
  await $`cp -a --preserve=xattr --no-target-directory ${root} ${dir}`;
  return {
    dir,
    release: () => {
      drop();
      undo();
    },
  };
}
