// tier: unit
// Every disk change of lib/ and the scripts goes through lib/core/effects.ts,
// so that a plan (which swaps the effects for printing ones) cannot miss one:
// no other module imports a disk-changing node:fs call, except the few
// listed here with the reason (none of them on a path a plan runs). Nothing
// patches node:fs. A new import fails this test until it goes through the
// effects or is listed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { projectSources } from '../helpers/project-sources.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

/** The node:fs (and node:fs/promises) calls that change the disk or open a file for writing. */
const DISK_CHANGING = new Set([
  'writeFileSync', 'appendFileSync', 'mkdirSync', 'mkdtempSync', 'rmSync', 'rmdirSync', 'unlinkSync', 'renameSync', 'copyFileSync',
  'cpSync', 'symlinkSync', 'linkSync', 'chmodSync', 'fchmodSync', 'lchmodSync', 'chownSync', 'fchownSync', 'lchownSync', 'utimesSync',
  'futimesSync', 'lutimesSync', 'truncateSync', 'ftruncateSync', 'writeSync', 'writevSync', 'fsyncSync', 'fdatasyncSync', 'openSync',
  'createWriteStream', 'writeFile', 'appendFile', 'mkdir', 'mkdtemp', 'rm', 'rmdir', 'unlink', 'rename', 'copyFile', 'cp', 'symlink',
  'link', 'chmod', 'lchmod', 'chown', 'lchown', 'utimes', 'lutimes', 'truncate', 'ftruncate', 'write', 'writev', 'fsync', 'open', 'promises',
]);

interface Allowed {
  file: string;
  names: string[];
  why: string;
}

const ALLOWED: Allowed[] = [
  { file: 'lib/core/effects.ts', names: ['appendFileSync', 'chmodSync', 'chownSync', 'copyFileSync', 'lchownSync', 'linkSync', 'lutimesSync', 'mkdirSync', 'mkdtempSync', 'renameSync', 'rmdirSync', 'rmSync', 'symlinkSync', 'unlinkSync', 'utimesSync', 'writeFileSync'], why: 'the real effects: the one place the others change the disk' },
  { file: 'lib/rootfs/tar-unpack.ts', names: ['openSync', 'writeSync'], why: "an archive entry's bytes streamed into its spool file (made by the effects); reached only through unpackTarball, which a plan notes as `# unpack` instead" },
  { file: 'lib/image/build.ts', names: ['fsync', 'fsyncSync', 'ftruncateSync', 'openSync', 'writeSync'], why: "image.ts (no plan mode) writes the image's bytes at their offsets in its temp file" },
  { file: 'lib/image/erofs-nodes.ts', names: ['openSync', 'writeSync'], why: 'the device nodes of the tree\'s table patched into the erofs file mkfs.erofs wrote in the scratch dir (image.ts, no plan mode)' },
  { file: 'lib/image/verity.ts', names: ['openSync', 'writeSync'], why: 'the dm-verity hash tree written into the image file at its offset (image.ts, no plan mode)' },
  { file: 'lib/initrd/write.ts', names: ['createWriteStream'], why: 'the cpio stream of initrd.ts (no plan mode) into its temp file' },
  { file: 'lib/boot/shim.ts', names: ['createWriteStream'], why: "the boot test's shim initrd streamed into its temp file (boot.ts, no plan mode)" },
];

/** An open that only reads (openSync, fs/promises open): allowed anywhere, checked call by call. */
const readOnlyOpens = (name: string) => new RegExp(`\\b${name}\\([^,()]+, (?:'r'|constants\\.O_RDONLY\\b[^)]*)\\)`, 'g');

const files = projectSources(['lib', 'rootfs']);

/** The disk-changing names each file imports from node:fs; a default or namespace import counts as all of them. */
function diskImports(file: string): string[] {
  const text = readFileSync(join(repoRoot, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\s)([^;]*?)\s+from\s+'node:fs(\/promises)?';/gm)) {
    const clause = m[1]!;
    const whole = clause.replace(/\{[\s\S]*\}/, '').replace(/,/g, '').trim();
    if (whole) found.push(`${whole} (whole module)`);
    const braces = clause.match(/\{([\s\S]*)\}/)?.[1] ?? '';
    for (const raw of braces.split(',')) {
      const name = raw.trim().split(/\s+as\s+/)[0]!;
      if (name && !name.startsWith('type ') && DISK_CHANGING.has(name)) found.push(name);
    }
  }
  for (const open of ['openSync', 'open']) {
    if (!found.includes(open) || ALLOWED.some((a) => a.file === file && a.names.includes(open))) continue;
    const calls = text.match(new RegExp(`\\b${open}\\(`, 'g'))?.length ?? 0;
    const reads = text.match(readOnlyOpens(open))?.length ?? 0;
    if (calls > 0 && calls === reads) found.splice(found.indexOf(open), 1);
  }
  return found.sort();
}

const imports = new Map(files.map((f) => [f, diskImports(f)]));

test('only the effects and the listed exceptions import a disk-changing node:fs call', () => {
  assert.ok(files.includes('lib/rootfs/build.ts') && files.includes('rootfs/debian/config.ts'), 'the scan sees the tree');
  const stray = [...imports].flatMap(([file, names]) => {
    const allowed = ALLOWED.find((a) => a.file === file)?.names ?? [];
    const extra = names.filter((n) => !allowed.includes(n));
    return extra.length ? [`${file}: ${extra.join(' ')}`] : [];
  });
  assert.equal(stray, [], 'change the disk through fx (lib/core/effects.ts), or list the file here with the reason');
});

test('each exception still imports what it is allowed (the list stays current)', () => {
  for (const a of ALLOWED) assert.equal(imports.get(a.file), [...a.names].sort(), `${a.file}: ${a.why}`);
});

test('nothing patches node:fs', () => {
  const patching = files.filter((f) => /syncBuiltinESMExports/.test(readFileSync(join(repoRoot, f), 'utf8')));
  assert.equal(patching, []);
});

test.run();
