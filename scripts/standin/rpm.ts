// Stand-in base images of the rpm distros, localhost/fedora:<ver> and
// localhost/centos/centos:stream9 (the names their Dockerfile.in takes with
// IMAGE_REGISTRY=localhost): Debian bookworm minbase with Debian's dnf, rpm
// and nodejs, the distro's os-release, and one dnf repository, a file://
// repository baked into the image. It holds tiny noarch stand-ins: the guest
// packages of the distro configs (test/helpers/rpm-repo.ts) and markers named
// as what Dockerfile.in installs (the real programs are the Debian layer's),
// so the Dockerfile builds unchanged and the stage's dnf --installroot uses
// the image's own repositories, as in the real images.
import { mkdirSync, writeFileSync } from 'node:fs';
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
import { ensureStandinImage } from './base-image.ts';

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

/** The base tarball of `distro`'s stand-in: mmdebstrap minbase + dnf, rpm, nodejs, its os-release and the baked repository. */
async function makeRpmStandinTar(distro: RpmDistro, repo: string, dir: string): Promise<string> {
  const tar = join(dir, 'base.tar');
  const files = join(dir, 'files');
  mkdirSync(files);
  writeFileSync(join(files, 'os-release'), RPM_STANDINS[distro].osRelease);
  writeFileSync(join(files, 'standin.repo'), repoFileText());
  const cache = packageCacheDir(join(cacheRoot, 'packages'), 'debian-bookworm-amd64-mmdebstrap')!;
  mkdirSync(cache, { recursive: true });
  const args = [
    '--mode=root', '--variant=minbase', '--aptopt=APT::Install-Recommends "false"', `--include=${DEBIAN_PACKAGES.join(',')}`,
    '--dpkgopt=force-unsafe-io', ...mmdebstrapCacheArgs(cache),
    // Debian's /etc/os-release is a link to usr/lib/os-release: both become the distro's.
    '--customize-hook=rm -f "$1"/etc/os-release', `--customize-hook=upload ${join(files, 'os-release')} /etc/os-release`,
    `--customize-hook=upload ${join(files, 'os-release')} /usr/lib/os-release`,
    '--customize-hook=mkdir -p "$1"/etc/yum.repos.d "$1"/srv', `--customize-hook=upload ${join(files, 'standin.repo')} ${REPO_FILE}`,
    `--customize-hook=cp -r ${repo} "$1"${REPO_IN_IMAGE}`,
    'bookworm', tar,
  ];
  await step(`mmdebstrap: the ${distro} stand-in base (Debian minbase + ${DEBIAN_PACKAGES.join(', ')})`, () =>
    withDownloadRetries('mmdebstrap', () => $`mmdebstrap ${args} </dev/null`, { beforeRetry: () => $`rm -f ${tar}`.then(() => {}) }));
  await $`rm -rf ${files}`;
  return tar;
}

/** The tarball of `distro`'s stand-in image (test cache) and its key. */
export async function rpmStandinTar(distro: RpmDistro): Promise<{ tar: string; key: string }> {
  const repo = await rpmStandinRepo();
  const key = hashOf(repo, distro, RPM_STANDINS[distro].osRelease, hashFiles('scripts/standin/rpm.ts', 'lib/rootfs/debootstrap.ts'));
  const dir = await cached(`${distro}-standin-base-tar`, key, (tmp) => makeRpmStandinTar(distro, repo, tmp).then(() => {}));
  return { tar: join(dir, 'base.tar'), key };
}

/** `distro`'s stand-in image in `engine`, unless it is there from the same tarball. */
export async function ensureRpmStandinImage(engine: Engine, env: Record<string, string>, distro: RpmDistro): Promise<string> {
  const { tar, key } = await rpmStandinTar(distro);
  await ensureStandinImage(engine, env, tar, key, RPM_STANDINS[distro].image);
  return RPM_STANDINS[distro].image;
}
