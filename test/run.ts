// Test runner: runs every test/**/*.test.ts under uvu and closes with the
// line CI reads: `N passed, N failed[, N skipped]`.
// Usage: tsx test/run.ts [--unit] [FILTER]   (FILTER: a regex on the test file path)
// --unit: only those of the files marked `// tier: unit` (no builds, no boots, no engines;
// seconds in all): the edit-test loop, `npm run test:unit`.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const testDir = fileURLToPath(new URL('.', import.meta.url));
const uvuBin = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filter = args.find((a) => a !== '--unit') ?? '';

/** The test files (relative to test/) whose first line marks them as the unit tier. */
function unitTierFiles(): string[] {
  return readdirSync(testDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts') && readFileSync(`${testDir}/${f}`, 'utf8').startsWith('// tier: unit'))
    .sort();
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const filePattern = `${filter}.*\\.test\\.ts$`;
const pattern = unitOnly
  ? `^(${unitTierFiles().filter((f) => new RegExp(filePattern, 'i').test(f)).map(escapeRegex).join('|')})$`
  : filePattern;

const child = spawn(process.execPath, ['--import', 'tsx', uvuBin, 'test', pattern], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
// Decoded as a stream: a chunk may end inside a UTF-8 character.
child.stdout.setEncoding('utf8');
child.stdout.on('data', (text: string) => {
  process.stdout.write(text);
  output += text;
});
const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));

// eslint-disable-next-line no-control-regex
const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
const count = (label: string) => Number(plain.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? NaN);
const total = count('Total');
const passed = count('Passed');
const skipped = count('Skipped') || 0;
let failed = total - passed;
if (Number.isNaN(total) || Number.isNaN(passed)) {
  // uvu died before its summary (e.g. a test file failed to load).
  failed = Math.max(1, Number.isNaN(failed) ? 1 : failed);
}
if (code !== 0 && failed === 0) failed = 1;
const done = Number.isNaN(passed) ? 0 : passed;
console.log(`\n${done} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 ? 1 : 0;
