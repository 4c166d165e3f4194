// tier: unit
// Nothing reads the environment on its own: each entry point resolves its
// settings table from `process.env` once (main's `env` parameter) and hands the
// values on. What else reads `process.env` is listed here with the reason;
// a new read fails this test until it goes through a table or is listed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { projectSources } from '../helpers/project-sources.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

interface Allowed {
  file: RegExp;
  line: RegExp;
  why: string;
}

const ALLOWED: Allowed[] = [
  {
    file: /^(rootfs|image|initrd|boot|sbom|test-images)\.ts$/,
    line: /async function main\(argv = process\.argv\.slice\(2\), env = process\.env\)/,
    why: 'the entry points: the one place each script resolves its settings table',
  },
  {
    file: /^(lib\/image\/(ext4|erofs)\.ts|lib\/rootfs\/dnf\.ts|test-images\.ts)$/,
    line: /\{ \.\.\.process\.env, /,
    why: 'the environment of a child process (mke2fs, debugfs, e2fsck, mkfs.erofs, make): the caller\'s, with a few variables set',
  },
  {
    file: /^lib\/(core\/(user-cache|cache-root)|rootfs\/(tree-cache|package-cache)|boot\/kernel)\.ts$/,
    line: /env: NodeJS\.ProcessEnv = process\.env\)/,
    why: 'host facts, not settings: where the user\'s caches live (HOME, XDG_CACHE_HOME) and who owns them (SUDO_UID)',
  },
  {
    file: /^lib\/container\/(engine|owner)\.ts$/,
    line: /env: NodeJS\.ProcessEnv = process\.env\)/,
    why: "host facts: the engine's own variables (DOCKER_HOST, CONTAINER_HOST...) and the caller handed back its outputs",
  },
  {
    file: /^lib\/core\/userns\.ts$/,
    line: /env: NodeJS\.ProcessEnv = process\.env\)/,
    why: 'a rootless build re-runs the script in a user namespace with the caller\'s whole environment; PATH (unshare, newuidmap) and the namespace marker are host facts',
  },
];

const files = projectSources(['lib']);

const reads = files.flatMap((file) =>
  readFileSync(join(repoRoot, file), 'utf8').split('\n').flatMap((line, i) => (line.includes('process.env') ? [{ file, line, at: `${file}:${i + 1}` }] : [])));

test('every process.env read in lib/ and the scripts is an entry point or a listed exception', () => {
  assert.ok(files.includes('rootfs.ts') && files.includes('lib/core/cli.ts'), 'the scan sees the tree');
  const stray = reads.filter((r) => !ALLOWED.some((a) => a.file.test(r.file) && a.line.test(r.line)));
  assert.equal(stray.map((r) => `${r.at}: ${r.line.trim()}`), [], 'read the environment through a settings table (lib/core/shared-settings.ts) or list it here with the reason');
});

test('each exception still exists (the list stays current)', () => {
  for (const a of ALLOWED) assert.ok(reads.some((r) => a.file.test(r.file) && a.line.test(r.line)), a.why);
  const entryPoints = reads.filter((r) => ALLOWED[0]!.line.test(r.line)).map((r) => r.file).sort();
  assert.equal(entryPoints, ['boot.ts', 'image.ts', 'initrd.ts', 'rootfs.ts', 'sbom.ts', 'test-images.ts']);
});

test.run();
