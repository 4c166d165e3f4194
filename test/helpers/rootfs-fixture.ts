// A Debian rootfs built by our rootfs.ts (mmdebstrap when installed) with the
// test agent, cached under a key covering every input. Callers treat the
// tree as read-only.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';
import { sourceClosure } from '../../lib/rootfs/cache.ts';
import { rootfsSettings } from '../../lib/rootfs/settings.ts';
import { extensionMountSources, testAgentBinary, testAgentTarball } from './agent.ts';
import { type Arch, hostArch } from '../../lib/core/arch.ts';
import { cached, cacheRoot, hashFiles, hashOf } from './cache.ts';
import { runInProcess } from './in-process.ts';
import { main as rootfsMain } from '../../rootfs.ts';

export const repoRoot = new URL('../../', import.meta.url).pathname;

/** Project .ts files reachable from `entries` through relative static imports. */
export const importClosure = (...entries: string[]): string[] => sourceClosure(repoRoot, ...entries);

function filesUnder(rel: string): string[] {
  return readdirSync(join(repoRoot, rel), { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(rel, e.name))
    .sort();
}

/** Every source file the rootfs builder reads for a distro. */
export function rootfsBuilderInputs(distro: string): string[] {
  return [...new Set([...importClosure('rootfs.ts', 'lib.ts', `rootfs/${distro}/config.ts`), 'VERSION', ...filesUnder(`rootfs/${distro}`)])].sort();
}

export interface DebianRootfsOptions {
  agentInit: 'yes' | 'no';
  /** DEBIAN_BOOTSTRAP (default mmdebstrap). */
  bootstrap?: 'mmdebstrap' | 'debootstrap';
  /** EXTRA_PKGS of the build. */
  extraPkgs?: string;
  /** REPO_COMPONENTS of the build (default main). */
  components?: string;
  /** ARCH of the build (default: the host's); a foreign one runs through qemu-user. */
  arch?: Arch;
  /** The agent as AGENT_TARBALL from testAgentTarball(), with the extension mount units and scripts. */
  agentTarball?: boolean;
}

/** Runs `tsx rootfs.ts` as a subprocess; downloaded packages are kept in the test cache, not the user's. */
export function runRootfs(args: string[], env: Record<string, string> = {}) {
  return $({ cwd: repoRoot, env: { ...cleanEnv(), PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), ...env }, nothrow: true })`${join(repoRoot, 'node_modules/.bin/tsx')} rootfs.ts ${args}`;
}

/** rootfs.ts's main() in this process (no tsx start-up), with runRootfs's environment. */
export function runRootfsInProcess(args: string[], env: Record<string, string> = {}) {
  const all = { ...cleanEnv(), PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), ...env };
  return runInProcess(() => rootfsMain(args, all), all);
}

/**
 * The environment without any rootfs.ts variable, so only what a test passes
 * counts; no distro-tree cache unless the test gives one (DISTRO_CACHE_DIR),
 * so that tests never write the user's cache and see their distro stage run.
 */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const spec of Object.values(rootfsSettings) as { env?: string }[]) if (spec.env && !['DEBUG', 'NO_COLOR', 'TERM'].includes(spec.env)) delete env[spec.env];
  delete env.DEBIAN_BOOTSTRAP;
  env.DISTRO_CACHE_DIR = 'no';
  return env;
}

/** The distro-tree cache of the shared fixtures (never the user's); room for every fixture's distro inputs. */
export const FIXTURE_TREE_CACHE = { DISTRO_CACHE_DIR: join(cacheRoot, 'distro-trees'), DISTRO_CACHE_ENTRIES: '12' };

/** Path of a cached Debian rootfs (`-d`: unneeded systemd units pruned) with the test agent (as /sbin/init with agentInit 'yes'). */
export async function debianRootfs(opts: DebianRootfsOptions): Promise<string> {
  const foreign = opts.arch && opts.arch !== hostArch() ? opts.arch : undefined;
  const agent = await testAgentBinary(foreign);
  const bootstrap = opts.bootstrap ?? 'mmdebstrap';
  const extraPkgs = opts.extraPkgs ?? '';
  const components = opts.components ?? '';
  // -d as the Makefile passes it: since upstream a49d0fb343 the units are pruned in the rootfs, not by image.ts.
  const tarball = opts.agentTarball ? await testAgentTarball(foreign) : undefined;
  const key = hashOf(
    hashFiles(...rootfsBuilderInputs('debian')), readFileSync(agent), opts.agentInit, bootstrap, extraPkgs, components, '-d', ...(foreign ? [foreign] : []),
    ...(tarball ? ['tarball', hashFiles(...extensionMountSources())] : []),
  );
  const name = `debian-rootfs-${foreign ? `${foreign}-` : ''}${opts.agentInit}${bootstrap === 'mmdebstrap' ? '' : `-${bootstrap}`}${extraPkgs ? '-extra' : ''}${components ? '-components' : ''}${tarball ? '-tarball' : ''}`;
  const dir = await cached(name, key, async (tmp) => {
    const out = await runRootfs(['-d', '-r', join(tmp, 'rootfs'), 'debian'], {
      ...(tarball ? { AGENT_TARBALL: tarball } : { AGENT_SOURCE_BIN: agent }), AGENT_INIT: opts.agentInit, DEBIAN_BOOTSTRAP: bootstrap, EXTRA_PKGS: extraPkgs, REPO_COMPONENTS: components, ...(foreign ? { ARCH: foreign } : {}),
      // The fixtures share their distro trees as a user's builds do: AGENT_INIT=no is built over AGENT_INIT=yes's, the agent tarball changes only the setup.
      ...FIXTURE_TREE_CACHE,
    });
    if (out.exitCode !== 0) throw new Error(`rootfs.ts debian failed:\n${out.stdout}\n${out.stderr}`);
    statSync(join(tmp, 'rootfs/sbin/init'));
  });
  return join(dir, 'rootfs');
}
