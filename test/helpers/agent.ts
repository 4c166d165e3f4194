// The test stand-in for kata-agent (test/agent/test-agent.c), built static:
// with the host's gcc for the host, with Debian's cross compiler
// (gcc-<triplet>, scripts/setup-host.sh) for another architecture.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Arch, compilerFor, hostArch } from '../../lib/core/arch.ts';
import { $ } from '../../lib/core/exec.ts';
import { cached, hashFiles } from './cache.ts';

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
