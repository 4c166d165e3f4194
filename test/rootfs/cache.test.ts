// The rootfs build cache for real: fedora from a local rpm repository with
// dnf (seconds per build). An unchanged build is skipped, a changed input is
// named and rebuilt, -f forces, and the Makefile's marker follows the manifest.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { agentTreeIdentity } from '../../lib/rootfs/cache.ts';
import { manifestPath, parseManifest } from '../../lib/rootfs/manifest.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { cleanEnv, repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_AGENT_INIT_STAND_INS } from '../helpers/rpm-repo.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-cache-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const root = join(scratch, 'fedora_rootfs');
const manifest = manifestPath(root);
let env: Record<string, string> = {};

test.before(async () => {
  const repo = await buildRpmRepo(join(scratch, 'rpms'), [
    ...FEDORA_AGENT_INIT_STAND_INS,
    { name: 'cache-extra', files: { 'usr/share/cache-extra': 'extra\n' } },
  ]);
  const agent = join(scratch, 'kata-agent');
  copyFileSync(await testAgentBinary(), agent);
  env = { REPO_URL: `file://${repo}`, AGENT_SOURCE_BIN: agent, AGENT_INIT: 'yes' };
});

/** rootfs.ts fedora into `root`; returns stdout (INFO lines). */
async function build(extraEnv: Record<string, string> = {}, args: string[] = []): Promise<string> {
  const out = await runRootfs([...args, '-o', 'cache-test', '-r', root, 'fedora'], { ...env, ...extraEnv });
  assert.is(out.exitCode, 0, out.stderr);
  assert.equal(readdirSync(scratch).filter((n) => /\.(partial|old|tmp)-/.test(n)), [], 'no temporaries left');
  return out.stdout;
}

const inode = (p: string) => statSync(p).ino;
const storedInputs = () => parseManifest(readFileSync(manifest, 'utf8'))!.inputs;

test('first build writes the manifest beside the rootfs', async () => {
  await build();
  const inputs = storedInputs();
  assert.is(inputs.distro, 'fedora');
  assert.is(inputs.AGENT_INIT, 'yes');
  assert.match(inputs.AGENT_SOURCE_BIN!, /^[0-9a-f]{64}$/);
  assert.match(inputs['source rootfs/fedora/config.ts']!, /^[0-9a-f]{64}$/);
  assert.not.ok(existsSync(join(root, '.fedora_rootfs.manifest.json')));
});

test('same inputs: the build is skipped, tree and manifest untouched', async () => {
  const [ino, mtime] = [inode(root), statSync(manifest).mtimeMs];
  const out = await build();
  assert.match(out, /^INFO: Rootfs .*fedora_rootfs is up to date \(.*checked in \d+\.\d+ s\): skipping the build/m);
  assert.not.match(out, /Rebuilding/);
  assert.is(inode(root), ino);
  assert.is(statSync(manifest).mtimeMs, mtime);
});

test('EXTRA_PKGS changed: rebuilt, naming EXTRA_PKGS only', async () => {
  const ino = inode(root);
  const out = await build({ EXTRA_PKGS: 'cache-extra' });
  assert.match(out, /^INFO: Rebuilding rootfs .*: changed input\(s\): EXTRA_PKGS$/m);
  assert.is.not(inode(root), ino);
  assert.ok(existsSync(join(root, 'usr/share/cache-extra')));
  assert.is(storedInputs().EXTRA_PKGS, 'cache-extra');
});

test('agent binary changed: rebuilt, naming AGENT_SOURCE_BIN only', async () => {
  appendFileSync(env.AGENT_SOURCE_BIN!, 'another build\n');
  const out = await build({ EXTRA_PKGS: 'cache-extra' });
  assert.match(out, /^INFO: Rebuilding rootfs .*: changed input\(s\): AGENT_SOURCE_BIN$/m);
  assert.ok(existsSync(join(root, 'usr/share/cache-extra')), 'the new tree keeps the extra package');
});

test('-f and FORCE_REBUILD=yes rebuild with unchanged inputs', async () => {
  for (const [extraEnv, args] of [[{}, ['-f']], [{ FORCE_REBUILD: 'yes' }, []]] as const) {
    const ino = inode(root);
    const out = await build({ EXTRA_PKGS: 'cache-extra', ...extraEnv }, [...args]);
    assert.match(out, /^INFO: Rebuilding rootfs .*: forced/m);
    assert.is.not(inode(root), ino);
  }
});

test('a rootfs without a manifest is not ours: refused as before, left alone', async () => {
  unlinkSync(manifest);
  const ino = inode(root);
  const out = await runRootfs(['-r', root, 'fedora'], env);
  assert.is(out.exitCode, 1);
  assert.match(out.stderr, /^ERROR: ROOTFS_DIR .* exists and is not empty/m);
  assert.is(inode(root), ino);
});

test('make invalidate-rootfs-fedora removes the rootfs, manifest and marker', async () => {
  await $({ cwd: repoRoot, env: { ...cleanEnv(), ...env } })`make -s invalidate-rootfs-fedora ROOTFS_BUILD_DEST=${scratch}`;
  assert.not.ok(existsSync(root));
  assert.not.ok(existsSync(manifest));
});

test('make rootfs-fedora: second run is a no-op (marker keeps its time), a change rebuilds, make clean removes it all', async () => {
  const dest = join(scratch, 'make');
  const marker = join(dest, '.fedora_rootfs.done');
  const make = (target: string, extraEnv: Record<string, string> = {}) =>
    $({ cwd: repoRoot, env: { ...cleanEnv(), ...env, ...extraEnv } })`make ${target} ROOTFS_BUILD_DEST=${dest} IMAGES_BUILD_DEST=${dest} VERSION_COMMIT=cache-test`;
  await $`mkdir -p ${dest}`;
  await make('rootfs-fedora');
  const made = statSync(marker).mtimeMs;
  assert.is(made, statSync(join(dest, '.fedora_rootfs.manifest.json')).mtimeMs, 'marker takes the manifest time');
  const again = await make('rootfs-fedora');
  assert.match(again.stdout, /is up to date/);
  assert.is(statSync(marker).mtimeMs, made);
  const changed = await make('rootfs-fedora', { EXTRA_PKGS: 'cache-extra' });
  assert.match(changed.stdout, /changed input\(s\): EXTRA_PKGS$/m);
  assert.ok(statSync(marker).mtimeMs > made, 'marker newer after a rebuild');
  // What image.ts / initrd.ts leave beside a rootfs: the outputs and their SBOMs.
  for (const out of ['kata-containers.img', 'kata-containers-initrd.img', 'kata-containers-image-fedora.img', 'kata-containers-initrd-fedora.img']) {
    writeFileSync(join(dest, out), 'output\n');
    writeFileSync(join(dest, `${out}.cdx.json`), '{}\n');
  }
  await make('clean');
  assert.equal(readdirSync(dest), []);
});

test('agent source tree: its commit, AGENT_VERSION\'s commit, local changes (edits, untracked files), unknown outside git', async () => {
  const src = join(scratch, 'agent-src');
  mkdirSync(src);
  assert.is(await agentTreeIdentity(src, ''), null);
  const git = (...args: string[]) => $({ cwd: src })`git -c user.name=t -c user.email=t@t ${args}`;
  await git('init', '-q');
  writeFileSync(join(src, 'Makefile'), 'all:\n');
  await git('add', 'Makefile');
  await git('commit', '-qm', 'one');
  const one = (await git('rev-parse', 'HEAD')).stdout.trim();
  await git('tag', 'v1');
  writeFileSync(join(src, 'Makefile'), 'all: x\n');
  await git('commit', '-qam', 'two');
  const two = (await git('rev-parse', 'HEAD')).stdout.trim();
  assert.is(await agentTreeIdentity(src, ''), two);
  assert.is(await agentTreeIdentity(src, 'v1'), one);
  writeFileSync(join(src, 'Makefile'), 'all: y\n');
  const edited = await agentTreeIdentity(src, '');
  assert.match(edited!, new RegExp(`^${two}\\+dirty:[0-9a-f]{64}$`));
  writeFileSync(join(src, 'new.rs'), 'fn main() {}\n');
  const untracked = await agentTreeIdentity(src, '');
  writeFileSync(join(src, 'new.rs'), 'fn main() { }\n');
  assert.equal(new Set([edited, untracked, await agentTreeIdentity(src, '')]).size, 3);
});

test.run();
