// The shim's dm-create helper (dm-create.c): compiled static with the guest
// architecture's gcc (the host's, or Debian's cross compiler) on first use and kept in the kernel cache directory, keyed by its
// source, so the shim carries one small binary and no shared libraries.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { atomicOutput } from '../core/atomic-write.ts';
import { join } from 'node:path';
import { $, haveCommand } from '../core/exec.ts';
import { die } from '../core/log.ts';
import { type Arch, compilerFor, hostArch } from '../core/arch.ts';
import { kernelCacheDir } from './kernel.ts';

const SOURCE = new URL('./dm-create.c', import.meta.url).pathname;

/** Path of the static dm-create binary for `arch` (default: the host's), built once. */
export async function dmCreateBinary(arch?: Arch): Promise<string> {
  const source = readFileSync(SOURCE);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = kernelCacheDir();
  const path = join(dir, `dm-create-${arch ?? hostArch()}-${key}`);
  if (existsSync(path)) return path;
  const gcc = compilerFor(arch);
  if (!(await haveCommand(gcc))) die(`${gcc} is missing: the boot shim compiles its dm-create helper with it (install it and its libc6-dev: scripts/setup-host.sh)`);
  fx.mkdir(dir, { recursive: true });
  await atomicOutput(path, (tmp) => $`${gcc} -static -Os -s -o ${tmp} ${SOURCE}`, { keepExisting: true });
  return path;
}
