// tier: unit
// lib.ts is the distro authors' library: every rootfs/<distro>/config.ts
// imports from it alone (or from another distro's config), and it exports
// nothing that neither a config uses nor README "Adding a distro" offers.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const configs = readdirSync(join(repoRoot, 'rootfs')).map((d) => `rootfs/${d}/config.ts`).filter((f) => {
  try {
    return readFileSync(join(repoRoot, f)) !== undefined;
  } catch {
    return false;
  }
});
const text = (f: string) => readFileSync(join(repoRoot, f), 'utf8');
const importsOf = (src: string) => [...src.matchAll(/^import [^;]*? from '([^']+)';/gms)].map((m) => m[1]!);
const namesFrom = (src: string, module: string) =>
  [...src.matchAll(new RegExp(`^import \\{([^}]*)\\} from '${module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}';`, 'gm'))]
    .flatMap((m) => m[1]!.split(',').map((n) => n.trim().replace(/^type /, '')).filter(Boolean));

test('every distro config imports from lib.ts (or another config) only', () => {
  assert.ok(configs.length >= 7, configs.join(' '));
  for (const f of configs) {
    const bad = importsOf(text(f)).filter((m) => m !== '../../lib.ts' && !/^\.\.\/[\w-]+\/config\.ts$/.test(m) && !m.startsWith('node:'));
    assert.equal(bad, [], `${f} imports from lib.ts`);
  }
});

test("each of lib.ts's exports is used by a config or offered in README \"Adding a distro\"", () => {
  const exported = [...text('lib.ts').matchAll(/^export (?:type )?\{([^}]*)\}/gm)].flatMap((m) => m[1]!.split(',').map((n) => n.trim()).filter(Boolean));
  const used = new Set(configs.flatMap((f) => namesFrom(text(f), '../../lib.ts')));
  const readme = text('README.md');
  const section = readme.slice(readme.indexOf('### Adding a distro'), readme.indexOf('\n## ', readme.indexOf('### Adding a distro')));
  const idle = exported.filter((n) => !used.has(n) && !section.includes(`\`${n}`));
  assert.equal(idle, [], 'export only what a distro author needs, and say so in README');
  for (const n of used) assert.ok(exported.includes(n), `${n} is exported`);
});

test.run();
