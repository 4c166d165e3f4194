// What the container tests share: the local Debian base image's tarball and
// an engine started for a suite (or why it could not be).
import { join } from 'node:path';
import { errorMessage } from '../../lib/core/cli.ts';
import type { Engine } from '../../lib/container/engine.ts';
import { type EngineSession, makeBaseTarball, startEngine, stopEngine } from '../../scripts/engines.ts';
import { cached, hashOf } from './cache.ts';

/** The minbase tarball the local Debian base image is imported from (made once, cached). */
export async function debianBaseTarball(): Promise<string> {
  const dir = await cached('debian-base-tar', hashOf('mmdebstrap --variant=minbase bookworm'), (tmp) => makeBaseTarball(join(tmp, 'base.tar')));
  return join(dir, 'base.tar');
}

/** The engine started, or why it could not start (the suite then says so and skips its builds). */
export async function startOrSkip(engine: Engine): Promise<EngineSession | string> {
  try {
    return await startEngine(engine);
  } catch (e) {
    await stopEngine(engine).catch(() => {});
    return errorMessage(e);
  }
}
