// The rpm database of a tree, read with the host's rpm (`rpm -qa --root`):
// sqlite, bdb and ndb formats alike, whatever dnf left.
import { existsSync, readdirSync } from 'node:fs';
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
  const r = await $({ nothrow: true })`rpm -qa --root ${root} --dbpath ${`/${db}`} --qf ${QUERY_FORMAT}`;
  if (r.exitCode !== 0) {
    die(`cannot read the rpm database /${db} of ${root} (rpm -qa --root failed: ${r.stderr.trim() || `exit ${r.exitCode}`}): install rpm on the host (apt-get install rpm)`);
  }
  return { type: 'rpm', database: db, packages: parseRpmQuery(r.stdout) };
}
