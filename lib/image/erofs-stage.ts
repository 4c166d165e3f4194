// A private copy of the rootfs for writers that cannot leave files out or add
// them (erofs adding etc/machine-id): hard links when the copy can sit on the
// same filesystem (fast, no data copied), a real copy otherwise. Files are
// only ever added to or unlinked from the copy, so the rootfs stays as it was.
import { basename, dirname, join } from 'node:path';
import { rmSync } from 'node:fs';
import { onCleanup } from '../core/cli.ts';
import { $ } from '../core/exec.ts';

export async function stagedCopy(root: string, fallbackDir: string): Promise<{ dir: string; release: () => void }> {
  const sibling = join(dirname(root), `.${basename(root)}.image-stage-${process.pid}`);
  const drop = (dir: string) => () => rmSync(dir, { recursive: true, force: true });
  let dir = sibling;
  let undo = onCleanup(drop(sibling));
  const linked = await $({ nothrow: true })`cp -al ${root} ${sibling}`;
  if (linked.exitCode !== 0) {
    drop(sibling)();
    undo();
    dir = join(fallbackDir, 'stage');
    undo = onCleanup(drop(dir));
    await $`cp -a ${root} ${dir}`;
  }
  return {
    dir,
    release: () => {
      drop(dir)();
      undo();
    },
  };
}
