// The stand-in as one thing: the archive (kept in the test cache, keyed by
// what it is made of), served on a fixed port of the host's address, and the
// base tarball made from it. Shared by scripts/ubuntu-standin.ts and the tests.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cached, cacheRoot, hashFiles, hashOf } from '../../test/helpers/cache.ts';
import { ARCHIVE_SUBDIR, downloadClosure, KEYRING_NAME, publishArchive, standinPackages, STANDIN_SUITE } from './archive.ts';
import { makeStandinBaseTar } from './base-image.ts';
import { hostAddress, serveDirectory } from './serve.ts';
import { packageCacheDir } from '../../lib/rootfs/package-cache.ts';

/** Fixed, so the base image's sources keep pointing at the server (STANDIN_PORT overrides). */
export const STANDIN_PORT = Number(process.env.STANDIN_PORT ?? 8642);

export interface StandinArchive {
  /** The served directory (the archive is its `ubuntu/`). */
  root: string;
  keyring: string;
  /** Cache key: changes with the package list and the archive's code. */
  key: string;
}

export interface RunningStandin extends StandinArchive {
  /** REPO_URL of the archive: http://<host address>:<port>/ubuntu */
  repoUrl: string;
  /** Stops the server when this process started it. */
  stop(): Promise<void>;
}

/** The archive, made in the test cache when missing (Debian's .debs through the shared package cache). */
export async function standinArchive(): Promise<StandinArchive> {
  const key = hashOf(standinPackages().join(' '), hashFiles('scripts/standin/archive.ts'));
  const dir = await cached('ubuntu-standin-archive', key, async (tmp) => {
    const debs = join(tmp, 'debs');
    await downloadClosure(debs, packageCacheDir(join(cacheRoot, 'packages'), 'debian-bookworm-amd64-mmdebstrap'));
    await publishArchive(debs, join(tmp, 'www'));
    rmSync(debs, { recursive: true });
  });
  const root = join(dir, 'www');
  return { root, keyring: join(root, KEYRING_NAME), key };
}

/**
 * Serve the archive on `port`: STANDIN_PORT (the default) is the one the base
 * image's sources name, and a server already there that serves this archive is
 * used as it is; 0 takes a free port (a host build needs no fixed one).
 */
export async function serveStandin(archive: StandinArchive, port = STANDIN_PORT): Promise<RunningStandin> {
  const inRelease = `${ARCHIVE_SUBDIR}/dists/${STANDIN_SUITE}/InRelease`;
  try {
    const served = await serveDirectory(archive.root, port);
    return { ...archive, repoUrl: `${served.url}/${ARCHIVE_SUBDIR}`, stop: served.close };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port !== STANDIN_PORT) throw e;
    const url = `http://${await hostAddress()}:${STANDIN_PORT}`;
    const theirs = await fetch(`${url}/${inRelease}`).then((r) => r.text()).catch(() => '');
    if (theirs !== readFileSync(join(archive.root, inRelease), 'utf8')) {
      throw new Error(`port ${STANDIN_PORT} is taken by something other than this stand-in archive: set STANDIN_PORT to a free port`);
    }
    return { ...archive, repoUrl: `${url}/${ARCHIVE_SUBDIR}`, stop: async () => {} };
  }
}

/** The base tarball of localhost/ubuntu:resolute for this archive served at `repoUrl`; returns [tar, key]. */
export async function standinBaseTar(s: RunningStandin): Promise<{ tar: string; key: string }> {
  const key = hashOf(s.key, s.repoUrl, hashFiles('scripts/standin/base-image.ts'));
  const dir = await cached('ubuntu-standin-base-tar', key, (tmp) => makeStandinBaseTar(s.repoUrl, s.keyring, join(tmp, 'base.tar')));
  const tar = join(dir, 'base.tar');
  if (!existsSync(tar)) throw new Error(`${tar} is missing: remove ${dir}`);
  return { tar, key };
}
