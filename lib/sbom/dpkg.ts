// dpkg's status file (var/lib/dpkg/status): the packages dpkg-query -W lists.
import { existsSync, readFileSync } from 'node:fs';
import { sortPackages, stanzas, type PackageSet } from './packages.ts';
import { resolveInRoot } from '../core/in-root.ts';

export const DPKG_STATUS = 'var/lib/dpkg/status';

export function readDpkgStatus(text: string): PackageSet['packages'] {
  const pkgs = stanzas(text, /^([A-Za-z][\w-]*):\s?(.*)$/).flatMap((f) => {
    const status = (f.get('Status') ?? '').split(/\s+/);
    // dpkg-query -W leaves out packages only known, not present (not-installed, or config-files only).
    if (!f.get('Package') || !f.get('Version') || status[2] === 'not-installed' || status[2] === 'config-files') return [];
    const src = /^(\S+)(?:\s+\((.+)\))?$/.exec(f.get('Source') ?? '');
    return [{
      type: 'deb' as const,
      name: f.get('Package')!,
      version: f.get('Version')!,
      arch: f.get('Architecture') ?? '',
      sourceName: src?.[1] ?? f.get('Package')!,
      sourceVersion: src?.[2] ?? f.get('Version')!,
    }];
  });
  return sortPackages(pkgs);
}

export function readDpkg(root: string): PackageSet | undefined {
  // Resolved as the guest sees the tree: a var -> /var link must not read the host's database.
  const file = resolveInRoot(root, DPKG_STATUS);
  if (!file || !existsSync(file)) return undefined;
  return { type: 'deb', database: DPKG_STATUS, packages: readDpkgStatus(readFileSync(file, 'utf8')) };
}
