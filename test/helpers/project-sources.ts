// The project's own TypeScript sources (tests aside), for the tests that grep
// them: relative paths of every .ts file below `dirs`, and the top-level scripts.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './rootfs-fixture.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

export function projectSources(dirs: string[]): string[] {
  return [
    ...dirs.flatMap((d) => sources(join(repoRoot, d))),
    ...readdirSync(repoRoot).filter((f) => f.endsWith('.ts')).map((f) => join(repoRoot, f)),
  ].map((f) => relative(repoRoot, f));
}
