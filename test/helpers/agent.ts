// The test stand-in for kata-agent (test/agent/test-agent.c), built static:
// with the host's gcc for the host, with Debian's cross compiler
// (gcc-<triplet>, scripts/setup-host.sh) for another architecture.
import { chmodSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Arch, compilerFor, hostArch } from '../../lib/core/arch.ts';
import { $ } from '../../lib/core/exec.ts';
import { cached, hashFiles, hashOf } from './cache.ts';

export const AGENT_MARKER = 'KATA-TEST-AGENT-READY';

/** Path of the static test agent binary for `arch` (default: the host's), built once and cached. */
export async function testAgentBinary(arch?: Arch): Promise<string> {
  const src = new URL('../agent/test-agent.c', import.meta.url).pathname;
  const native = !arch || arch === hostArch();
  const gcc = compilerFor(arch);
  const name = native ? 'test-agent' : `test-agent-${arch}`;
  const dir = await cached(name, hashFiles('test/agent/test-agent.c'), async (tmp) => {
    await $`${gcc} -static -Os -s -o ${join(tmp, 'kata-agent')} ${src}`;
  });
  return join(dir, 'kata-agent');
}

/** The same test agent rebuilt with other compiler flags: the same behaviour, other bytes (an "agent change"). */
export async function rebuiltTestAgentBinary(): Promise<string> {
  const src = new URL('../agent/test-agent.c', import.meta.url).pathname;
  const dir = await cached('test-agent-O2', hashFiles('test/agent/test-agent.c'), async (tmp) => {
    await $`gcc -static -O2 -s -o ${join(tmp, 'kata-agent')} ${src}`;
  });
  return join(dir, 'kata-agent');
}

/** A minimal tree at `dir` whose /sbin/init is the test agent for `arch` (for images and initrds that boot straight to it). */
export async function agentInitTree(dir: string, arch?: Arch): Promise<string> {
  for (const d of ['sbin', 'dev', 'proc', 'sys']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(await testAgentBinary(arch), join(dir, 'sbin/init'));
  return dir;
}

/** Our kata-extension-mount generator, unit and scripts (test/agent/extension-mount), and where the agent's `make install` puts upstream's. */
const EXTENSION_MOUNT_DIR = 'test/agent/extension-mount';
export const EXTENSION_MOUNT_FILES: Record<string, string> = {
  'kata-extension-mount@.service': 'usr/lib/systemd/system',
  'kata-extension-mount-generator': 'usr/lib/systemd/system-generators',
  'kata-extension-mount.sh': 'usr/libexec',
  'kata-extension-umount.sh': 'usr/libexec',
};

/** Repository paths of the extension mount pieces (for cache keys). */
export function extensionMountSources(): string[] {
  const dir = new URL(`../../${EXTENSION_MOUNT_DIR}`, import.meta.url).pathname;
  return readdirSync(dir).sort().map((f) => `${EXTENSION_MOUNT_DIR}/${f}`);
}

/** Lay the extension mount pieces into a tree (a stage the test owns, not a guest tree with links). */
export function installExtensionMount(root: string): void {
  const src = new URL(`../../${EXTENSION_MOUNT_DIR}/`, import.meta.url).pathname;
  for (const [file, dest] of Object.entries(EXTENSION_MOUNT_FILES)) {
    mkdirSync(join(root, dest), { recursive: true });
    copyFileSync(join(src, file), join(root, dest, file));
    chmodSync(join(root, dest, file), file.endsWith('.service') ? 0o644 : 0o755);
  }
}

/**
 * An AGENT_TARBALL as the agent's `make install` (INIT=no) would lay it out:
 * the test agent as usr/bin/kata-agent plus the extension mount pieces.
 * No kata-agent.service: rootfs.ts then writes its console-bound one.
 */
export async function testAgentTarball(arch?: Arch): Promise<string> {
  const agent = await testAgentBinary(arch);
  const name = !arch || arch === hostArch() ? 'test-agent-tarball' : `test-agent-tarball-${arch}`;
  const dir = await cached(name, hashOf(hashFiles('test/agent/test-agent.c', ...extensionMountSources()), arch ?? ''), async (tmp) => {
    const stage = join(tmp, 'stage');
    mkdirSync(join(stage, 'usr/bin'), { recursive: true });
    copyFileSync(agent, join(stage, 'usr/bin/kata-agent'));
    chmodSync(join(stage, 'usr/bin/kata-agent'), 0o755);
    installExtensionMount(stage);
    await $`tar --zstd --owner=0 --group=0 --sort=name -cf ${join(tmp, 'kata-static-agent.tar.zst')} -C ${stage} usr`;
  });
  return join(dir, 'kata-static-agent.tar.zst');
}
