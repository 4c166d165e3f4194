// The stand-in Ubuntu archive for tests (scripts/standin/): made once in the
// test cache, served on the host's address, and the localhost/ubuntu:resolute
// base image trusting it.
import type { Engine } from '../../lib/container/engine.ts';
import { ensureStandinImage } from '../../scripts/standin/base-image.ts';
import { serveStandin, standinArchive, standinBaseTar, STANDIN_PORT, type RunningStandin } from '../../scripts/standin/standin.ts';

export interface UbuntuArchive {
  /** REPO_URL for DISTRO=ubuntu OS_VERSION=resolute. */
  repoUrl: string;
  /** The archive's public key (APT_KEYRING for a host build). */
  keyring: string;
  stop(): Promise<void>;
}

let running: RunningStandin | undefined;

/**
 * Serve the stand-in archive, making it first when the cache lacks it.
 * `forContainers`: on STANDIN_PORT, the port localhost/ubuntu:resolute's
 * sources name (a server of the same archive already there is reused);
 * otherwise on a free port of this process's own.
 */
export async function startUbuntuArchive(opts: { forContainers?: boolean } = {}): Promise<UbuntuArchive> {
  running = await serveStandin(await standinArchive(), opts.forContainers ? STANDIN_PORT : 0);
  const mine = running;
  return { repoUrl: mine.repoUrl, keyring: mine.keyring, stop: () => mine.stop() };
}

/** localhost/ubuntu:resolute in `engine`, made from the served archive (start it first). */
export async function ensureUbuntuBaseImage(engine: Engine, env: Record<string, string>): Promise<void> {
  if (!running?.repoUrl.endsWith(`:${STANDIN_PORT}/ubuntu`)) throw new Error('startUbuntuArchive({ forContainers: true }) first: the base image is made from the archive served on STANDIN_PORT');
  const { tar, key } = await standinBaseTar(running);
  await ensureStandinImage(engine, env, tar, key);
}
