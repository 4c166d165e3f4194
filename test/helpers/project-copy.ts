// A copy of the project for a non-root user of a test: the working tree's
// tracked and new files, node_modules linked to ours.
import { cpSync, existsSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot } from './rootfs-fixture.ts';

export async function projectCopy(dir: string): Promise<void> {
  mkdirSync(dir);
  const files = (await $({ cwd: repoRoot })`git ls-files -z --cached --others --exclude-standard`).stdout.split('\0')
    .filter((f) => f && f !== 'node_modules' && existsSync(join(repoRoot, f)));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(repoRoot, f), join(dir, f), { verbatimSymlinks: true });
  }
  symlinkSync(realpathSync(join(repoRoot, 'node_modules')), join(dir, 'node_modules'));
}
