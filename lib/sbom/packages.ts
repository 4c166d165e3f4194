// What a package database says is installed in a tree: the record every
// reader (dpkg, rpm, apk) returns and the SBOM is built from.
export type PackageType = 'deb' | 'rpm' | 'apk';

export interface InstalledPackage {
  type: PackageType;
  name: string;
  /** Full version as the package manager prints it (rpm: [epoch:]version-release). */
  version: string;
  arch: string;
  /** rpm only: the epoch, when set (a purl qualifier). */
  epoch?: string;
  /** Licence as the database records it (rpm, apk; dpkg records none). */
  license?: string;
  /** Source package name and version, when the database records them. */
  sourceName?: string;
  sourceVersion?: string;
}

export interface PackageSet {
  type: PackageType;
  /** Where the database was read (relative to the tree). */
  database: string;
  packages: InstalledPackage[];
}

/** Stanzas of a dpkg status / apk installed file: blank-line separated "Key: value" blocks. */
export function stanzas(text: string, separator: RegExp): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (/^\s/.test(line) && last !== undefined) {
        fields.set(last, `${fields.get(last)}\n${line.trim()}`);
        continue;
      }
      const m = separator.exec(line);
      if (!m) continue;
      last = m[1]!;
      fields.set(last, m[2]!);
    }
    if (fields.size) out.push(fields);
  }
  return out;
}

/** Byte-wise order by name, then version and architecture: the same set always lists the same way. */
export function sortPackages(pkgs: InstalledPackage[]): InstalledPackage[] {
  const key = (p: InstalledPackage) => `${p.name}\0${p.version}\0${p.arch}`;
  return [...pkgs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
