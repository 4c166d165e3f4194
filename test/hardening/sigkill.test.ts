// SIGKILL of each builder (image.ts ext4, erofs and xfs, initrd.ts) at a random
// moment, then a re-run: the re-run succeeds and nothing of the killed run is
// left (no temp file, scratch dir or stage, no sibling of the rootfs, no
// mount or loop device), and the rootfs was only read (ctime, link counts).
// The whole process group is killed, as an OOM kill or `kill -9 -PGID` would.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { makeHostileTree, inodeStamps } from '../helpers/hostile-tree.ts';
import { repoRoot } from '../helpers/image-fixture.ts';

const work = mkdtempSync('/var/tmp/osbuilder-sigkill-');
const parent = join(work, 'trees');
const root = join(parent, 'rootfs');
test.before(async () => {
  mkdirSync(parent);
  await makeHostileTree(root, { sparseBytes: 8 << 20 });
  rmSync(join(root, 'names', 'n'.repeat(255))); // erofs cannot hold it (refused: fidelity tests)
  for (const dev of ['blk-259-1048575', 'chr-4095-1048575', 'chr-4095-5']) rmSync(join(root, 'special', dev)); // nor xfs these,
  rmSync(join(root, 'symlinks/long')); // nor this (refusals: fidelity tests)
  await $`head -c 24M /dev/urandom > ${join(root, 'usr/payload')}`; // a build long enough to be caught midway
});
test.after(() => rmSync(work, { recursive: true, force: true }));

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const drop = ['IMAGE', 'INITRD_IMAGE', 'FS_TYPE', 'AGENT_INIT', 'SOURCE_DATE_EPOCH', 'USE_DOCKER', 'USE_PODMAN', 'MEASURED_ROOTFS'];
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.includes(k))), AGENT_INIT: 'yes', ...extra };
}

/**
 * Run the builder; with killAfterMs, SIGKILL its whole process group that
 * long after its first INFO line (the build has started: tsx's start-up
 * time is not what is tested). Resolves with the exit status.
 */
function run(script: string, args: string[], extra: Record<string, string>, killAfterMs?: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(join(repoRoot, 'node_modules/.bin/tsx'), [join(repoRoot, script), ...args], { cwd: repoRoot, env: env(extra), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    if (killAfterMs !== undefined && !timer && d.toString().includes('INFO:')) {
      timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), killAfterMs);
    }
  });
  return new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, stderr });
  }));
}

const ours = (text: string) => text.split('\n').filter((l) => l.includes(work));

for (const [name, script, extra, output] of [
  ['image.ts ext4', 'image.ts', {}, 'kata.img'],
  ['image.ts erofs', 'image.ts', { FS_TYPE: 'erofs' }, 'kata.img'],
  ['image.ts xfs', 'image.ts', { FS_TYPE: 'xfs' }, 'kata.img'],
  ['initrd.ts', 'initrd.ts', {}, 'initrd.img'],
] as const) {
  test(`${name}: SIGKILL at a random moment, then a re-run leaves nothing behind`, async () => {
    const out = join(work, `out-${name.replace(/\W+/g, '-')}`);
    mkdirSync(out);
    const before = inodeStamps(root);
    const delay = Math.floor(Math.random() * 1500);
    const killed = await run(script, ['-o', join(out, output), root], extra, delay);
    if (killed.signal !== 'SIGKILL') console.log(`${name}: finished before the kill at ${delay} ms`);
    assert.is(inodeStamps(root), before, `killed after ${delay} ms: the rootfs was only read`);
    const again = await run(script, ['-o', join(out, output), root], extra);
    assert.is(again.code, 0, `re-run after a kill at ${delay} ms (${killed.signal ?? `exit ${killed.code}`}):\n${again.stderr}`);
    assert.equal(readdirSync(out), [output, `${output}.cdx.json`], `killed after ${delay} ms: only the output (and its SBOM) is left`);
    assert.equal(readdirSync(parent), ['rootfs'], 'no sibling of the rootfs');
    assert.is(inodeStamps(root), before, 'the rootfs was only read');
    assert.equal(ours(readFileSync('/proc/self/mounts', 'utf8')), [], 'no mount left');
    assert.equal(ours((await $`losetup -a`).stdout), [], 'no loop device left');
  });
}

test.run();
