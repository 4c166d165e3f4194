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
// eslint-disable-next-line no-control-regex
const withoutColour = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
let output = '';
/** When each file's header line went by: uvu prints a file's name before running it. */
const fileStarts: [string, number][] = [];
let scanned = 0;
// Decoded as a stream: a chunk may end inside a UTF-8 character.
child.stdout.setEncoding('utf8');
child.stdout.on('data', (text: string) => {
  process.stdout.write(text);
  output += text;
  const lastNewline = output.lastIndexOf('\n');
  if (lastNewline < scanned) return;
  for (const line of withoutColour(output.slice(scanned, lastNewline)).split('\n')) {
    if (/^\S+\.test\.ts$/.test(line.trim())) fileStarts.push([line.trim(), Date.now()]);
  }
  scanned = lastNewline + 1;
});
const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
const ended = Date.now();

/** The slowest files, so the suite's time can be watched where it goes. */
function slowestFiles(limit: number): string {
  const spans = fileStarts.map(([file, start], i) => [file, ((fileStarts[i + 1]?.[1] ?? ended) - start) / 1000] as const);
  const shown = [...spans].sort((a, b) => b[1] - a[1]).slice(0, limit);
  const total = spans.reduce((sum, [, s]) => sum + s, 0);
  return [`Slowest test files (all ${spans.length}: ${Math.round(total)} s):`, ...shown.map(([f, s]) => `  ${s.toFixed(0).padStart(5)} s  ${f}`)].join('\n');
}

const plain = withoutColour(output);

/** Each failure with its file and first message line, repeated at the end: CI shows only the tail. */
function failureRecap(): string {
  const lines = plain.split('\n');
  const recap: string[] = [];
  /** Per file: tests the tallies count as not passed, and FAIL blocks printed. */
  const perFile = new Map<string, { notPassed: number; printed: number }>();
  let file = '';
  lines.forEach((line, i) => {
    if (/^\S+\.test\.ts$/.test(line.trim())) file = line.trim();
    const counts = perFile.get(file) ?? { notPassed: 0, printed: 0 };
    perFile.set(file, counts);
    const tally = line.match(/\((\d+) \/ (\d+)\)\s*$/);
    if (tally) counts.notPassed += Number(tally[2]) - Number(tally[1]);
    const fail = line.match(/^\s*FAIL\s+(.*)$/);
    if (!fail) return;
    counts.printed++;
    const message = lines.slice(i + 1).find((l) => l.trim() !== '')?.trim() ?? '';
    recap.push(`  ${file}: ${fail[1].trim()}\n      ${message.slice(0, 300)}`);
  });
  for (const [f, { notPassed, printed }] of perFile) {
    // uvu prints nothing when a suite's before/after hook throws: it swallows the error.
    if (notPassed > printed) recap.push(`  ${f}: ${notPassed - printed} test(s) not run or not passed with no failure printed: a suite hook threw`);
  }
  return recap.length ? `Failures:\n${recap.join('\n')}` : '';
}
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
if (fileStarts.length > 1) console.log(`\n${slowestFiles(15)}`);
const recap = failureRecap();
if (recap) console.log(`\n${recap}`);
console.log(`\n${done} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 ? 1 : 0;
