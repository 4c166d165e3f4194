// The rpm database of a tree, read with the host's rpm (`rpm -qa`):
// sqlite, bdb and ndb formats alike, whatever dnf left. rpm reads a private
// copy: opening a sqlite database writes its -shm file in place, and the
// tree's files may be hard links shared with the distro-tree cache.
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { die } from '../core/log.ts';
import { sortPackages, type PackageSet } from './packages.ts';
import { resolveInRoot } from '../core/in-root.ts';

/**
 * Where rpm keeps its database: the current location, the older one, and
 * where dnf puts it on a Debian host (Debian's rpm sets %_dbpath to ~/.rpmdb).
 */
export const RPM_DB_PATHS = ['usr/lib/sysimage/rpm', 'var/lib/rpm', 'root/.rpmdb'];

const FIELDS = ['NAME', 'EPOCH', 'VERSION', 'RELEASE', 'ARCH', 'LICENSE', 'SOURCERPM'];
const QUERY_FORMAT = `${FIELDS.map((f) => `%{${f}}`).join('\\t')}\\n`;

export function rpmDbPath(root: string): string | undefined {
  return RPM_DB_PATHS.find((p) => {
    const dir = resolveInRoot(root, p);
    return !!dir && existsSync(dir) && readdirSync(dir).some((f) => /^(rpmdb\.sqlite|Packages(\.db)?)$/.test(f));
  });
}

/** `name-version-release.src.rpm` → name and version-release. */
function sourceOf(srpm: string): { sourceName?: string; sourceVersion?: string } {
  const m = /^(.+)-([^-]+)-([^-]+)\.src\.rpm$/.exec(srpm);
  return m ? { sourceName: m[1]!, sourceVersion: `${m[2]}-${m[3]}` } : {};
}

export function parseRpmQuery(out: string): PackageSet['packages'] {
  const pkgs = out.split('\n').filter(Boolean).map((line) => {
    const [name, epoch, version, release, arch, license, srpm] = line.split('\t') as string[];
    const none = (v: string | undefined) => (v === undefined || v === '(none)' || v === '' ? undefined : v);
    const e = none(epoch);
    return {
      type: 'rpm' as const,
      name: name!,
      version: `${e ? `${e}:` : ''}${version}-${release}`,
      arch: none(arch) ?? '',
      ...(e ? { epoch: e } : {}),
      ...(none(license) ? { license: license! } : {}),
      ...sourceOf(none(srpm) ?? ''),
    };
  });
  return sortPackages(pkgs);
}

export async function readRpm(root: string): Promise<PackageSet | undefined> {
  const db = rpmDbPath(root);
  if (!db) return undefined;
  const copy = fx.mkdtemp(join(tmpdir(), 'osbuilder-rpmdb-'));
  try {
    const dir = resolveInRoot(root, db)!;
    // Regular files only: a link in a guest tree is never followed out of it.
    for (const f of readdirSync(dir)) if (lstatSync(join(dir, f)).isFile()) fx.copy(join(dir, f), join(copy, f));
    const r = await $({ nothrow: true })`rpm -qa --dbpath ${copy} --qf ${QUERY_FORMAT}`;
    if (r.exitCode !== 0) {
      die(`cannot read the rpm database /${db} of ${root} (rpm -qa failed: ${r.stderr.trim() || `exit ${r.exitCode}`}): install rpm on the host (apt-get install rpm)`);
    }
    return { type: 'rpm', database: db, packages: parseRpmQuery(r.stdout) };
  } finally {
    fx.remove(copy, { recursive: true, force: true });
  }
}
