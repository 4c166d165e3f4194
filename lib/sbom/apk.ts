// apk's installed database (lib/apk/db/installed): one stanza per package,
// one-letter keys (P name, V version, A arch, L licence, o origin).
import { existsSync, readFileSync } from 'node:fs';
import { sortPackages, stanzas, type PackageSet } from './packages.ts';
import { resolveInRoot } from '../core/in-root.ts';

export const APK_INSTALLED = 'lib/apk/db/installed';

export function readApkInstalled(text: string): PackageSet['packages'] {
  const pkgs = stanzas(text, /^([A-Za-z]):(.*)$/).flatMap((f) => {
    if (!f.get('P') || !f.get('V')) return [];
    return [{
      type: 'apk' as const,
      name: f.get('P')!,
      version: f.get('V')!,
      arch: f.get('A') ?? '',
      ...(f.get('L') ? { license: f.get('L')! } : {}),
      sourceName: f.get('o') ?? f.get('P')!,
      sourceVersion: f.get('V')!,
    }];
  });
  return sortPackages(pkgs);
}

export function readApk(root: string): PackageSet | undefined {
  const file = resolveInRoot(root, APK_INSTALLED);
  if (!file || !existsSync(file)) return undefined;
  return { type: 'apk', database: APK_INSTALLED, packages: readApkInstalled(readFileSync(file, 'utf8')) };
}
