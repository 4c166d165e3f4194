// The stand-in Ubuntu archive for tests (scripts/standin/): made once in the
// test cache, served on the host's address, and the localhost/ubuntu:resolute
// base image trusting it.
import type { Engine } from '../../lib/container/engine.ts';
import { ensureStandinImage } from '../../scripts/standin/base-image.ts';
import { serveStandin, standinArchive, standinBaseTar, type RunningStandin } from '../../scripts/standin/standin.ts';

export interface UbuntuArchive {
  /** REPO_URL for DISTRO=ubuntu OS_VERSION=resolute. */
  repoUrl: string;
  /** The archive's public key (APT_KEYRING for a host build). */
  keyring: string;
  stop(): Promise<void>;
}

let running: RunningStandin | undefined;

/** Start (or reuse) the server of the stand-in archive, making the archive first when the cache lacks it. */
export async function startUbuntuArchive(): Promise<UbuntuArchive> {
  running = await serveStandin(await standinArchive());
  const mine = running;
  return { repoUrl: mine.repoUrl, keyring: mine.keyring, stop: () => mine.stop() };
}

/** localhost/ubuntu:resolute in `engine`, made from the served archive (start it first). */
export async function ensureUbuntuBaseImage(engine: Engine, env: Record<string, string>): Promise<void> {
  if (!running) throw new Error('startUbuntuArchive() first: the base image is made from the served archive');
  const { tar, key } = await standinBaseTar(running);
  await ensureStandinImage(engine, env, tar, key);
}
