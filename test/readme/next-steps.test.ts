// The README's "Next steps" commands, run as written (one bash session, in a
// copy of the project, output to a pipe as in a log file), each checked by
// its result; and while they run, a line at least every 15 s and no escape codes.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { bootKindOfFile } from '../../lib/boot/boot.ts';

const repo = new URL('../../', import.meta.url).pathname;
const MAX_SILENCE_MS = 15_000;

/** The commands of the first sh block under "## Next steps", one a line. */
export function nextStepsCommands(readme: string): string[] {
  const section = readme.slice(readme.indexOf('\n## Next steps'));
  const block = section.match(/```sh\n([\s\S]*?)```/)?.[1] ?? '';
  return block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

interface Ran {
  command: string;
  output: string;
  /** Longest time between two output lines of the command (its start-up, before the first line, is not counted). */
  maxSilenceMs: number;
  /** The line after which that silence came. */
  silentAfter: string;
  exitCode: number;
}

/** Run the commands in one bash (so `eval ... export` carries over), stopping at the first failure. */
async function runAll(dir: string, commands: string[]): Promise<Ran[]> {
  const marker = (i: number) => `@@NEXT-STEP-${i}@@`;
  const script = ['set -e', ...commands.flatMap((c, i) => [`echo '${marker(i)}'`, c]), `echo '${marker(commands.length)}'`].join('\n');
  const env = { ...process.env, DEBUG: '', NO_COLOR: '' };
  const child = spawn('bash', ['-c', `exec 2>&1\n${script}`], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ran: Ran[] = [];
  let current: Ran | undefined;
  let last = Date.now();
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const now = Date.now();
      const m = line.match(/^@@NEXT-STEP-(\d+)@@$/);
      if (m) {
        if (current) current.exitCode = 0;
        current = Number(m[1]) < commands.length
          ? { command: commands[Number(m[1])]!, output: '', maxSilenceMs: 0, silentAfter: '', exitCode: -1 }
          : undefined;
        if (current) ran.push(current);
      } else if (current) {
        if (current.output && now - last > current.maxSilenceMs) {
          current.maxSilenceMs = now - last;
          current.silentAfter = current.output.trimEnd().split('\n').at(-1)!;
        }
        current.output += `${line}\n`;
      }
      last = now;
    }
  });
  const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (current) {
    current.output += pending;
    current.exitCode = code;
  }
  return ran;
}

test('the README Next steps block is the walk from make demo to the own guest', () => {
  const commands = nextStepsCommands(readFileSync(join(repo, 'README.md'), 'utf8'));
  assert.ok(commands.includes('make TEST_AGENT=yes image-debian'), commands.join('\n'));
  assert.ok(commands.some((c) => c.startsWith('npx tsx boot.ts')));
  assert.ok(commands.some((c) => c.includes('initrd-debian')));
  assert.ok(commands.some((c) => c.startsWith('USE_DOCKER=true')));
});

test('TEST_AGENT: yes points AGENT_SOURCE_BIN at the test agent; bad values and a second agent are one ERROR', async () => {
  const make = (...args: string[]) => $({ cwd: repo, nothrow: true })`make --no-print-directory ${args}`;
  assert.is((await make('TEST_AGENT=yes', 'print-AGENT_SOURCE_BIN')).stdout.trim(), join(repo, 'out/test-agent/kata-agent'));
  const bad = await make('TEST_AGENT=maybe', 'print-DISTRO');
  assert.is(bad.exitCode, 2);
  assert.match(bad.stderr, /ERROR: TEST_AGENT=maybe is not valid: use yes or no/);
  const two = await make('TEST_AGENT=yes', 'AGENT_SOURCE_BIN=/opt/kata-agent', 'print-DISTRO');
  assert.match(two.stderr, /ERROR: TEST_AGENT=yes and AGENT_SOURCE_BIN=\/opt\/kata-agent both name an agent: drop one/);
  const clean = await make('-n', 'clean-test-data', 'OSBUILDER_TEST_CACHE=/var/cache/some-test-cache');
  assert.match(clean.stdout, new RegExp(`rm -rf /var/cache/some-test-cache ${join(repo, 'out')} /var/lib/osbuilder-ts/docker`));
});

test('the README Next steps run as written, and each does what the README says', async () => {
  const commands = nextStepsCommands(readFileSync(join(repo, 'README.md'), 'utf8'));
  const dir = mkdtempSync('/var/tmp/next-steps-');
  try {
    // A copy of the project as it is (tracked and new files), sharing node_modules.
    await $({ cwd: repo })`git ls-files -co --exclude-standard -z | grep -zv '^node_modules' | tar --null -T - -cf - | tar -xf - -C ${dir}`;
    symlinkSync(realpathSync(join(repo, 'node_modules')), join(dir, 'node_modules'));
    const ran = await runAll(dir, commands);
    const byCommand = (prefix: string, nth = 0) => ran.filter((r) => r.command.startsWith(prefix))[nth];
    const log = ran.map((r) => `$ ${r.command}  [exit ${r.exitCode}, max silence ${(r.maxSilenceMs / 1000).toFixed(1)} s]\n${r.output.split('\n').slice(-12).join('\n')}`).join('\n');
    for (const r of ran) assert.is(r.exitCode, 0, `"${r.command}" failed:\n${log}`);
    assert.is(ran.length, commands.length, `every command ran:\n${log}`);

    const agent = join(dir, 'out/test-agent/kata-agent');
    assert.ok(statSync(agent).mode & 0o111, 'make test-agent: an executable stand-in agent');
    const rootfs = join(dir, 'debian_rootfs');
    assert.ok(readFileSync(join(rootfs, 'usr/bin/kata-agent')).equals(readFileSync(agent)), 'image-debian: the rootfs has the test agent');
    const image = join(dir, 'kata-containers-image-debian.img');
    assert.is(bootKindOfFile(image), 'image');
    assert.match(byCommand('npx tsx boot.ts -m nvdimm')!.output, /^PASS: the agent came up [\d.]+ s after QEMU started/m);
    assert.is(bootKindOfFile(join(dir, 'kata-containers-initrd-debian.img')), 'initrd');
    assert.match(byCommand('npx tsx boot.ts kata-containers-initrd')!.output, /^PASS: /m);
    const again = byCommand('make TEST_AGENT=yes image-debian', 1)!;
    assert.match(again.output, /is up to date/, 'the second make is a no-op for the rootfs');
    assert.not.match(again.output, /Creating image/, 'and for the image');
    assert.is(bootKindOfFile(join(dir, 'kata-containers-docker.img')), 'image');
    assert.match(byCommand('USE_DOCKER=true')!.output, /docker container/);
    assert.match(byCommand('npx tsx boot.ts -q kata-containers-docker')!.output, /^PASS: /m);

    for (const r of ran) {
      assert.ok(r.maxSilenceMs <= MAX_SILENCE_MS, `"${r.command}" was silent for ${(r.maxSilenceMs / 1000).toFixed(1)} s after "${r.silentAfter}"`);
      assert.not.match(r.output, /\x1b/, `"${r.command}": no escape codes in a log`);
      assert.not.match(r.output, /\r/, `"${r.command}": no CR in a log`);
      assert.not.match(r.output, /\uFFFD/, `"${r.command}": no broken characters`);
    }
    process.stdout.write(`\n${ran.map((r) => `  ${r.command}: max silence ${(r.maxSilenceMs / 1000).toFixed(1)} s`).join('\n')}\n`);
  } finally {
    await $({ nothrow: true })`npx tsx ${join(repo, 'scripts/engines.ts')} stop docker`;
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
