// Finding and reading the SBOM of a built rootfs directory, image or initrd,
// and the rows sbom.ts prints: packages and osbuilder-ts inputs.
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { die, warn } from '../core/log.ts';
import { sha256OfFile } from '../core/file-read.ts';
import { outputSbomPath, ROOTFS_SBOM_PATH } from './paths.ts';

type Json = Record<string, any>;

export interface PackageRow {
  name: string;
  version: string;
  arch: string;
  source: string;
  purl: string;
}

export interface InputRow {
  name: string;
  kind: string;
  version: string;
  sha256: string;
  source: string;
}

export interface LoadedSbom {
  /** Where it was read from (or "generated from /var/lib/dpkg/status"). */
  from: string;
  doc: Json;
  /** The image or initrd whose bytes were checked against the SBOM's sha256. */
  checked?: string;
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

function parse(path: string): Json {
  try {
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    if (doc?.bomFormat !== 'CycloneDX') throw new Error('not a CycloneDX document');
    return doc;
  } catch (e) {
    return die(`${path} is not a CycloneDX JSON SBOM (${(e as Error).message}): give a rootfs directory, an image or initrd, or a .cdx.json file`);
  }
}

/** The SBOM of TARGET: a rootfs directory (its own, or built from its package database), a .cdx.json, or an output with one beside it. */
export async function loadSbom(target: string): Promise<LoadedSbom> {
  if (!existsSync(target)) die(`${target} does not exist: give a rootfs directory, an image or initrd, or a .cdx.json file`);
  if (statSync(target).isDirectory()) {
    const inside = join(target, ROOTFS_SBOM_PATH);
    if (isRegularFile(inside)) return { from: inside, doc: parse(inside) };
    const [{ readInstalledPackages }, { rootfsBomJson }, { readOsRelease }] = await Promise.all([
      import('./database.ts'), import('./bom.ts'), import('./os-release.ts'),
    ]);
    const packages = await readInstalledPackages(target);
    if (!packages) die(`${target} has neither /${ROOTFS_SBOM_PATH} nor a package database (dpkg, rpm, apk): give a tree built by rootfs.ts or a distro tree`);
    warn(`${target} has no /${ROOTFS_SBOM_PATH}: listing its package database /${packages.database}`);
    const os = readOsRelease(target);
    const text = rootfsBomJson({ distroId: os.id ?? 'unknown', distroVersion: os.versionId ?? '', arch: '', osbuilderVersion: 'unknown', inputs: [], packages, epoch: 0 });
    return { from: `/${packages.database}`, doc: JSON.parse(text) };
  }
  if (target.endsWith('.json')) return { from: target, doc: parse(target) };
  const beside = outputSbomPath(target);
  if (!isRegularFile(beside)) die(`${target} has no SBOM beside it (${beside}): rebuild it with image.ts or initrd.ts, or give the rootfs directory`);
  const doc = parse(beside);
  return { from: beside, doc, ...(await checkOutput(target, beside, doc)) };
}

/**
 * An SBOM beside an image is shown only for the bytes it describes: a
 * mismatch means the image was changed or replaced after the SBOM was
 * written, so its package list would be another image's.
 */
async function checkOutput(target: string, sbom: string, doc: Json): Promise<{ checked?: string }> {
  const top: Json = doc.metadata?.component ?? {};
  const recorded = ((top.hashes ?? []) as Json[]).find((h) => h.alg === 'SHA-256')?.content as string | undefined;
  if (!recorded) {
    warn(`${sbom} records no sha256 of ${target}: it cannot be checked against the file`);
    return {};
  }
  const recordedBytes = prop(top, 'osbuilder:output:bytes');
  const size = statSync(target).size;
  const actual = recordedBytes !== undefined && Number(recordedBytes) !== size ? undefined : sha256OfFile(target);
  if (actual === recorded) return { checked: target };
  const was = `${recorded}${recordedBytes !== undefined ? ` (${recordedBytes} bytes)` : ''}`;
  const is = actual ? `${actual} (${size} bytes)` : `${size} bytes`;
  return die(`${sbom} describes another image than ${target}: it records sha256 ${was}, the file is ${is} (changed or replaced after the SBOM was written); rebuild it with image.ts or initrd.ts, or give ${sbom} itself to read that SBOM anyway`);
}

const prop = (c: Json, name: string): string | undefined => (c.properties as Json[] | undefined)?.find((p) => p.name === name)?.value;

export function packageRows(doc: Json): PackageRow[] {
  return ((doc.components ?? []) as Json[])
    .filter((c) => prop(c, 'osbuilder:package:type') !== undefined)
    .map((c) => {
      const srcName = prop(c, 'osbuilder:package:source-name') ?? '';
      const srcVersion = prop(c, 'osbuilder:package:source-version') ?? '';
      const source = srcName && (srcName !== c.name || srcVersion !== c.version) ? `${srcName} ${srcVersion}`.trim() : '';
      return { name: c.name, version: c.version ?? '', arch: prop(c, 'osbuilder:package:arch') ?? '', source, purl: c.purl ?? '' };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0));
}

export function inputRows(doc: Json): InputRow[] {
  return ((doc.components ?? []) as Json[])
    .filter((c) => prop(c, 'osbuilder:input:kind') !== undefined)
    .map((c) => ({
      name: c.name,
      kind: prop(c, 'osbuilder:input:kind')!,
      version: c.version ?? '',
      sha256: ((c.hashes ?? []) as Json[]).find((h) => h.alg === 'SHA-256')?.content ?? '',
      source: prop(c, 'osbuilder:input:source') ?? '',
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Text columns, padded to the widest cell. */
export function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function describeSbom(s: LoadedSbom): string {
  const doc = s.doc;
  const top: Json = doc.metadata?.component ?? {};
  const sha = ((top.hashes ?? []) as Json[]).find((h) => h.alg === 'SHA-256')?.content;
  const verity = ((top.properties ?? []) as Json[]).filter((p) => String(p.name).startsWith('osbuilder:verity:'));
  const pkgs = packageRows(doc);
  const inputs = inputRows(doc);
  const head = [
    `SBOM: ${s.from} (CycloneDX ${doc.specVersion})`,
    `describes: ${top.name ?? '?'}${top.version ? ` ${top.version}` : ''}${sha ? `  sha256 ${sha}` : ''}${s.checked ? ` (the sha256 of ${s.checked}, checked)` : ''}`,
    ...verity.map((p) => `  ${String(p.name).slice('osbuilder:'.length)}: ${p.value}`),
    '',
  ].join('\n');
  const pkgTable = pkgs.length ? columns([['PACKAGE', 'VERSION', 'ARCH', 'SOURCE'], ...pkgs.map((p) => [p.name, p.version, p.arch, p.source])]) : '(no packages)\n';
  const inputTable = inputs.length
    ? `\n${columns([['INPUT', 'KIND', 'VERSION', 'SHA256', 'FROM'], ...inputs.map((i) => [i.name, i.kind, i.version || '-', i.sha256 ? i.sha256.slice(0, 16) : '-', i.source])])}`
    : '';
  return `${head}\n${pkgTable}${inputTable}\n${pkgs.length} packages, ${inputs.length} inputs\n`;
}

export interface SbomDiff {
  added: PackageRow[];
  removed: PackageRow[];
  changed: { name: string; arch: string; from: string; to: string }[];
  inputsChanged: { name: string; from: string; to: string }[];
}

/** What changed from `a` to `b`: packages by name and architecture, inputs by sha256 and version. */
export function diffSboms(a: Json, b: Json): SbomDiff {
  const key = (p: PackageRow) => `${p.name}\0${p.arch}`;
  const group = (rows: PackageRow[]) => {
    const m = new Map<string, PackageRow[]>();
    for (const r of rows) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
    return m;
  };
  const before = group(packageRows(a));
  const after = group(packageRows(b));
  const out: SbomDiff = { added: [], removed: [], changed: [], inputsChanged: [] };
  const versions = (rows: PackageRow[]) => rows.map((r) => r.version).join(', ');
  for (const [k, rows] of after) {
    const old = before.get(k);
    if (!old) out.added.push(...rows);
    else if (versions(old) !== versions(rows)) out.changed.push({ name: rows[0]!.name, arch: rows[0]!.arch, from: versions(old), to: versions(rows) });
  }
  for (const [k, rows] of before) if (!after.has(k)) out.removed.push(...rows);
  const ins = (doc: Json) => new Map(inputRows(doc).map((i) => [i.name, `${i.version || '-'} ${i.sha256 ? i.sha256.slice(0, 16) : '-'}`]));
  const ia = ins(a);
  const ib = ins(b);
  for (const name of [...new Set([...ia.keys(), ...ib.keys()])].sort()) {
    if (ia.get(name) !== ib.get(name)) out.inputsChanged.push({ name, from: ia.get(name) ?? '(none)', to: ib.get(name) ?? '(none)' });
  }
  return out;
}

export function formatDiff(d: SbomDiff): string {
  const arch = (a: string) => (a ? ` (${a})` : '');
  const lines = [
    ...d.added.map((p) => `+ ${p.name} ${p.version}${arch(p.arch)}`),
    ...d.removed.map((p) => `- ${p.name} ${p.version}${arch(p.arch)}`),
    ...d.changed.map((c) => `~ ${c.name} ${c.from} -> ${c.to}${arch(c.arch)}`),
    ...d.inputsChanged.map((c) => `~ input ${c.name}: ${c.from} -> ${c.to}`),
  ].sort((x, y) => (x.slice(2) < y.slice(2) ? -1 : 1));
  const summary = `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.inputsChanged.length} inputs changed`;
  return `${lines.join('\n')}${lines.length ? '\n' : ''}${summary}\n`;
}
