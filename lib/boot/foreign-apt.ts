// apt for another architecture's packages (kernels, busybox-static for the
// shim) without touching the host's apt configuration: the host's sources,
// but a private list, status and archive directory in the kernel cache,
// refreshed once a day.
import { existsSync, statSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { join } from 'node:path';
import { ARCHES, type Arch, hostArch } from '../core/arch.ts';
import { $ } from '../core/exec.ts';
import { info } from '../core/log.ts';
import { withDownloadRetries } from '../core/retry.ts';

const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;

/** apt options for `arch`: none for the host's own architecture. */
function aptOptions(arch: Arch, stateDir: string): string[] {
  if (arch === hostArch()) return [];
  const deb = ARCHES[arch].debian;
  return [
    '-o', `APT::Architecture=${deb}`, '-o', `APT::Architectures::=${deb}`,
    '-o', `Dir::State::Lists=${join(stateDir, 'lists')}`, '-o', `Dir::State::status=${join(stateDir, 'status')}`,
    '-o', `Dir::Cache=${join(stateDir, 'cache')}`, '-o', 'Debug::NoLocking=1',
  ];
}

/** The private apt state of `arch` under `cacheDir`, its package lists fetched when missing or a day old. */
export async function foreignApt(arch: Arch, cacheDir: string): Promise<string[]> {
  const stateDir = join(cacheDir, `apt-${ARCHES[arch].debian}`);
  const opts = aptOptions(arch, stateDir);
  if (!opts.length) return opts;
  const stamp = join(stateDir, 'updated');
  if (!existsSync(stamp) || Date.now() - statSync(stamp).mtimeMs > LISTS_MAX_AGE_MS) {
    for (const d of ['lists/partial', 'cache/archives/partial']) fx.mkdir(join(stateDir, d), { recursive: true });
    if (!existsSync(join(stateDir, 'status'))) fx.write(join(stateDir, 'status'), '');
    info(`fetching the ${ARCHES[arch].debian} package lists (private apt state in ${stateDir})`);
    await withDownloadRetries(`apt-get update (${ARCHES[arch].debian})`, () => $`apt-get ${opts} -qq update`);
    fx.write(stamp, '');
  }
  return opts;
}
