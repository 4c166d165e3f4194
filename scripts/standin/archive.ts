// The stand-in Ubuntu archive: Debian bookworm's packages re-published under
// the suite/codename `resolute` in a local apt archive signed with a
// throwaway key, so the Ubuntu builder path (and the devkit's) runs end to
// end without Ubuntu's archive. The .debs come from the Debian mirror the
// host's apt uses (mmdebstrap picks it), as the closure of everything a
// resolute guest build installs.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { $ } from '../../lib/core/exec.ts';
import { step } from '../../lib/core/log.ts';
import { withDownloadRetries } from '../../lib/core/retry.ts';
import { mmdebstrapCacheArgs } from '../../lib/rootfs/debootstrap.ts';
import { ubuntuPackages } from '../../lib/rootfs/distro-packages.ts';

export const STANDIN_SUITE = 'resolute';
export const STANDIN_ARCH = 'amd64';
/** Where the archive sits below the served directory: REPO_URL is http://<addr>:<port>/ubuntu. */
export const ARCHIVE_SUBDIR = 'ubuntu';
/** The public key, binary (what apt's signed-by, trusted.gpg.d and mmdebstrap --keyring take). */
export const KEYRING_NAME = 'standin-keyring.gpg';

/** Packages Ubuntu has in universe; the rest go to main. */
export const UNIVERSE = ['busybox-static', 'ltrace'];

/** Upstream's devkit package list (rootfs-builder/devkit). */
export const DEVKIT_PACKAGES = [
  'apt', 'ca-certificates', 'busybox-static', 'bash', 'pciutils', 'util-linux', 'strace', 'ltrace', 'lsof', 'psmisc',
  'procps', 'tcpdump', 'iproute2', 'dnsutils', 'netcat-openbsd', 'curl', 'wget', 'file', 'less',
];

/** What rootfs/ubuntu/Dockerfile.in installs into the build image. */
export const BUILD_IMAGE_PACKAGES = ['ca-certificates', 'coreutils', 'debootstrap', 'mmdebstrap', 'nodejs', 'zstd'];

/** Every package a resolute guest build asks for, on top of mmdebstrap's required set. */
export function standinPackages(): string[] {
  const guest = ubuntuPackages({ agentInit: 'no', seccomp: 'yes', arch: 'x86_64' });
  return [...new Set([...guest, ...DEVKIT_PACKAGES, ...BUILD_IMAGE_PACKAGES])].sort();
}

/** The closure's .debs into `out`: one mmdebstrap run of the required set plus the lists, from the host's Debian mirror. */
export async function downloadClosure(out: string, packageCache?: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  const cacheArgs = packageCache ? mmdebstrapCacheArgs(packageCache) : ['--skip=download/empty', '--skip=essential/unlink'];
  const args = [
    '--mode=root', '--variant=required', `--arch=${STANDIN_ARCH}`, '--aptopt=APT::Install-Recommends "false"',
    `--include=${standinPackages().join(',')}`, '--dpkgopt=force-unsafe-io', ...cacheArgs,
    `--customize-hook=find "$1"/var/cache/apt/archives -maxdepth 1 -name '*.deb' -exec cp -t ${out} {} +`,
    'bookworm', '/dev/null',
  ];
  await step(`mmdebstrap: the stand-in's packages (${standinPackages().length} named + required)`, () =>
    withDownloadRetries('mmdebstrap', () => $`mmdebstrap ${args} </dev/null`));
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** One Packages stanza: the .deb's control fields plus where it is and its hashes. */
async function packageStanza(deb: string, filename: string): Promise<{ name: string; text: string }> {
  const control = (await $`dpkg-deb -f ${deb}`).stdout.replace(/\n+$/, '');
  const name = /^Package: (\S+)/m.exec(control)![1]!;
  const content = readFileSync(deb);
  const text = `${control}\nFilename: ${filename}\nSize: ${content.length}\nMD5sum: ${md5(content)}\nSHA256: ${sha256(content)}\n`;
  return { name, text };
}

/** The Release file (pure): suite/codename, components, architecture and the indices' hashes. */
export function releaseText(indices: { path: string; content: Buffer }[], date: Date): string {
  const lines = [
    'Origin: osbuilder-ts stand-in', 'Label: Ubuntu (Debian bookworm packages)', `Suite: ${STANDIN_SUITE}`,
    `Codename: ${STANDIN_SUITE}`, 'Version: 26.04', `Date: ${date.toUTCString()}`, `Architectures: ${STANDIN_ARCH}`,
    'Components: main universe', 'Description: stand-in for Ubuntu resolute, made by scripts/ubuntu-standin.ts',
  ];
  lines.push('MD5Sum:', ...indices.map((i) => ` ${md5(i.content)} ${String(i.content.length).padStart(8)} ${i.path}`));
  lines.push('SHA256:', ...indices.map((i) => ` ${sha256(i.content)} ${String(i.content.length).padStart(8)} ${i.path}`));
  return `${lines.join('\n')}\n`;
}

/**
 * Publish the .debs of `debs` as an archive in `root` (pool/, dists/resolute/),
 * signed with a new key; writes `<root>/standin-keyring.gpg`.
 */
export async function publishArchive(debs: string, root: string): Promise<void> {
  const archive = join(root, ARCHIVE_SUBDIR);
  const stanzas: Record<'main' | 'universe', string[]> = { main: [], universe: [] };
  for (const file of readdirSync(debs).filter((f) => f.endsWith('.deb')).sort()) {
    const probe = await packageStanza(join(debs, file), '');
    const component = UNIVERSE.includes(probe.name) ? 'universe' : 'main';
    // Pool names carry no epoch (apt-get download's `1%3a` would reach the server escaped twice).
    const rel = `pool/${component}/${file.replace(/_\d+%3a/, '_')}`;
    mkdirSync(join(archive, 'pool', component), { recursive: true });
    copyFileSync(join(debs, file), join(archive, rel));
    stanzas[component].push(probe.text.replace(/^Filename: $/m, `Filename: ${rel}`));
  }
  const dists = join(archive, 'dists', STANDIN_SUITE);
  const indices: { path: string; content: Buffer }[] = [];
  for (const component of ['main', 'universe'] as const) {
    const dir = `${component}/binary-${STANDIN_ARCH}`;
    mkdirSync(join(dists, dir), { recursive: true });
    const plain = Buffer.from(stanzas[component].join('\n'));
    const gz = gzipSync(plain);
    writeFileSync(join(dists, dir, 'Packages'), plain);
    writeFileSync(join(dists, dir, 'Packages.gz'), gz);
    indices.push({ path: `${dir}/Packages`, content: plain }, { path: `${dir}/Packages.gz`, content: gz });
  }
  writeFileSync(join(dists, 'Release'), releaseText(indices, new Date()));
  await signRelease(dists, join(root, KEYRING_NAME));
}

/** A throwaway ed25519 key (its secret dropped afterwards) signs Release as InRelease and Release.gpg. */
async function signRelease(dists: string, keyring: string): Promise<void> {
  // A short home: gpg-agent's socket path must fit a unix socket address.
  const home = mkdtempSync(join(tmpdir(), 'standin-gpg-'));
  const gpg = ['gpg', '--batch', '--quiet', '--homedir', home];
  try {
    await $`${gpg} --passphrase ${''} --quick-gen-key ${'osbuilder-ts stand-in archive <standin@localhost>'} ed25519 sign never`;
    await $`${gpg} --clearsign -o ${join(dists, 'InRelease')} ${join(dists, 'Release')}`;
    await $`${gpg} --detach-sign -o ${join(dists, 'Release.gpg')} ${join(dists, 'Release')}`;
    await $`${gpg} --export -o ${keyring}`;
  } finally {
    await $`gpgconf --homedir ${home} --kill all`.nothrow();
    await $`rm -rf ${home}`;
  }
}

/** Total size of the archive's pool, for the log. */
export function poolBytes(root: string): number {
  const pool = join(root, ARCHIVE_SUBDIR, 'pool');
  return ['main', 'universe'].flatMap((c) => readdirSync(join(pool, c)).map((f) => statSync(join(pool, c, f)).size)).reduce((a, b) => a + b, 0);
}
