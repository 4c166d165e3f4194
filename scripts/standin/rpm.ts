// Stand-in base images of the rpm distros, localhost/fedora:<ver> and
// localhost/centos/centos:stream9 (the names their Dockerfile.in takes with
// IMAGE_REGISTRY=localhost): Debian bookworm minbase with Debian's dnf, rpm
// and nodejs (one tarball, imported once), the distro's os-release (a
// one-COPY build on top), and one dnf repository, a file://
// repository baked into the image. It holds tiny noarch stand-ins: the guest
// packages of the distro configs (test/helpers/rpm-repo.ts) and markers named
// as what Dockerfile.in installs (the real programs are the Debian layer's),
// so the Dockerfile builds unchanged and the stage's dnf --installroot uses
// the image's own repositories, as in the real images.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../lib/container/engine.ts';
import { $ } from '../../lib/core/exec.ts';
import { step } from '../../lib/core/log.ts';
import { withDownloadRetries } from '../../lib/core/retry.ts';
import { mmdebstrapCacheArgs } from '../../lib/rootfs/debootstrap.ts';
import { packageCacheDir } from '../../lib/rootfs/package-cache.ts';
import centos from '../../rootfs/centos/config.ts';
import fedora from '../../rootfs/fedora/config.ts';
import { cached, cacheRoot, hashFiles, hashOf } from '../../test/helpers/cache.ts';
import { buildRpmRepo, FEDORA_STAND_INS, type StandInRpm } from '../../test/helpers/rpm-repo.ts';
import { ensureStandinImage, hasStandinImage, standinLabelLine } from './base-image.ts';

export type RpmDistro = 'fedora' | 'centos';
export const RPM_DISTROS: RpmDistro[] = ['fedora', 'centos'];

interface RpmStandin {
  image: string;
  osRelease: string;
}

export const RPM_STANDINS: Record<RpmDistro, RpmStandin> = {
  fedora: {
    image: `localhost/fedora:${fedora.osVersion}`,
    osRelease: `NAME="Fedora Linux"\nID=fedora\nVERSION_ID=${fedora.osVersion}\nPRETTY_NAME="Fedora Linux ${fedora.osVersion} (osbuilder-ts stand-in)"\n`,
  },
  centos: {
    image: `localhost/centos/centos:${centos.osVersion}`,
    osRelease: 'NAME="CentOS Stream"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\nPRETTY_NAME="CentOS Stream 9 (osbuilder-ts stand-in)"\n',
  },
};

/** The shared base both are built from. */
const BASE_IMAGE = 'localhost/osbuilder-rpm-standin:base';
/** Where the repository sits in the image, and its dnf repo file. */
export const REPO_IN_IMAGE = '/srv/osbuilder-standin-rpms';
const REPO_FILE = '/etc/yum.repos.d/osbuilder-standin.repo';

/** What the Dockerfile.in files install: markers only, the programs are Debian's. */
export const BUILD_IMAGE_STAND_INS: StandInRpm[] = ['coreutils', 'dnf', 'nodejs', 'tar', 'zstd'].map((name) => ({
  name,
  files: { [`usr/share/osbuilder-standin/${name}`]: `stand-in: the image's ${name} is Debian's\n` },
}));

/** Debian packages of the image: dnf and rpm for the Dockerfile and the stage, nodejs for the stage bundle. */
const DEBIAN_PACKAGES = ['dnf', 'rpm', 'nodejs'];

export function repoFileText(): string {
  return `[osbuilder-standin]\nname=osbuilder-ts stand-in rpms\nbaseurl=file://${REPO_IN_IMAGE}\nenabled=1\ngpgcheck=0\n`;
}

/** The stand-in rpm repository (test cache): the guest packages and the build-image markers. */
export async function rpmStandinRepo(): Promise<string> {
  const rpms = [...FEDORA_STAND_INS, ...BUILD_IMAGE_STAND_INS];
  const key = hashOf(JSON.stringify(rpms), hashFiles('test/helpers/rpm-repo.ts'));
  const dir = await cached('rpm-standin-repo', key, async (tmp) => {
    await buildRpmRepo(join(tmp, 'build'), rpms);
    await $`mv ${join(tmp, 'build', 'repo')} ${join(tmp, 'repo')}`;
    await $`rm -rf ${join(tmp, 'build')}`;
  });
  return join(dir, 'repo');
}

/** The shared base tarball: mmdebstrap minbase + dnf, rpm, nodejs and the baked repository (os-release stays Debian's, set per distro). */
async function makeRpmStandinTar(repo: string, tar: string, repoFile: string): Promise<void> {
  writeFileSync(repoFile, repoFileText());
  const cache = packageCacheDir(join(cacheRoot, 'packages'), 'debian-bookworm-amd64-mmdebstrap')!;
  mkdirSync(cache, { recursive: true });
  const args = [
    '--mode=root', '--variant=minbase', '--aptopt=APT::Install-Recommends "false"', `--include=${DEBIAN_PACKAGES.join(',')}`,
    '--dpkgopt=force-unsafe-io', ...mmdebstrapCacheArgs(cache),
    '--customize-hook=mkdir -p "$1"/etc/yum.repos.d "$1"/srv', `--customize-hook=upload ${repoFile} ${REPO_FILE}`,
    `--customize-hook=cp -r ${repo} "$1"${REPO_IN_IMAGE}`,
    'bookworm', tar,
  ];
  await step(`mmdebstrap: the rpm stand-ins' base (Debian minbase + ${DEBIAN_PACKAGES.join(', ')})`, () =>
    withDownloadRetries('mmdebstrap', () => $`mmdebstrap ${args} </dev/null`, { beforeRetry: () => $`rm -f ${tar}`.then(() => {}) }));
}

/** The tarball both stand-ins start from (test cache) and its key. */
export async function rpmStandinTar(): Promise<{ tar: string; key: string }> {
  const repo = await rpmStandinRepo();
  const key = hashOf(repo, hashFiles('scripts/standin/rpm.ts', 'lib/rootfs/debootstrap.ts'));
  const dir = await cached('rpm-standin-base-tar', key, (tmp) => makeRpmStandinTar(repo, join(tmp, 'base.tar'), join(tmp, 'standin.repo')));
  return { tar: join(dir, 'base.tar'), key };
}

/**
 * `distro`'s stand-in image in `engine`: the shared base imported once (as
 * BASE_IMAGE), plus the distro's os-release (Debian's /etc/os-release is a
 * link to usr/lib/os-release); nothing is done when the engine has both
 * from the same inputs.
 */
export async function ensureRpmStandinImage(engine: Engine, env: Record<string, string>, distro: RpmDistro): Promise<string> {
  const { image, osRelease } = RPM_STANDINS[distro];
  const { tar, key: baseKey } = await rpmStandinTar();
  const key = hashOf(baseKey, osRelease);
  if (await hasStandinImage(engine, env, image, key)) return image;
  await ensureStandinImage(engine, env, tar, baseKey, BASE_IMAGE);
  const context = mkdtempSync(join(tmpdir(), 'osbuilder-rpm-standin-'));
  try {
    writeFileSync(join(context, 'os-release'), osRelease);
    writeFileSync(join(context, 'Dockerfile'), `FROM ${BASE_IMAGE}\nCOPY os-release /usr/lib/os-release\n${standinLabelLine(key)}\n`);
    await step(`Building ${image} in ${engine}`, () => $({ env: { ...process.env, ...env } })`${engine} build -q -t ${image} ${context}`);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return image;
}
