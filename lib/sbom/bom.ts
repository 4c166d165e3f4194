// The CycloneDX 1.6 document of a rootfs tree: the tree as the described
// component, one component per installed package and one per input
// osbuilder-ts put in. Byte-reproducible: sorted lists, serial number derived
// from the content, timestamp from SOURCE_DATE_EPOCH.
// Written directly (loading the CycloneDX library cost ~0.2 s a build); the
// bytes are what the library's JSON serializer gives for the same document
// (sortLists, two-space indent), which test/sbom/bom-oracle.test.ts checks
// against the library on real package sets. Hence the library's rules below:
// lists ordered by String#localeCompare, empty values left out, a licence
// that is a known SPDX id (any case) an id, else a valid SPDX expression an
// expression, else a name.
import { readFileSync } from 'node:fs';
import { PackageURL } from 'packageurl-js';
import parseSpdx from 'spdx-expression-parse';
import type { SbomInput } from './inputs.ts';
import type { InstalledPackage, PackageSet } from './packages.ts';
import { withDerivedSerial } from './serial.ts';

export const SPEC_VERSION = '1.6';
/** bom-ref of the described component (the rootfs). */
export const ROOTFS_REF = 'rootfs';

export interface RootfsBomData {
  /** purl namespace and name of the distro (os-release ID, else the distro name). */
  distroId: string;
  distroVersion: string;
  /** Target architecture, `uname -m` style. */
  arch: string;
  osbuilderVersion: string;
  packages?: PackageSet;
  inputs: SbomInput[];
  /** SOURCE_DATE_EPOCH; the current time without it. */
  epoch?: number;
}

export function packageUrl(p: InstalledPackage, distroId: string, distroVersion: string): string {
  const qualifiers: Record<string, string> = {};
  if (p.arch) qualifiers.arch = p.arch;
  if (distroVersion) qualifiers.distro = `${distroId}-${distroVersion}`;
  if (p.epoch) qualifiers.epoch = p.epoch;
  if (p.sourceName && p.sourceName !== p.name) qualifiers.upstream = p.sourceName;
  // rpm purls carry version-release, the epoch goes into its qualifier.
  const version = p.type === 'rpm' && p.epoch ? p.version.slice(p.epoch.length + 1) : p.version;
  return new PackageURL(p.type, distroId, p.name, version, qualifiers, undefined).toString();
}

type Json = Record<string, unknown>;

const byLocale = (a: string, b: string) => a.localeCompare(b);

let spdxIds: Map<string, string> | undefined;

/** The SPDX licence and exception ids the CycloneDX 1.6 schema knows, by lower case (read only when a package has a licence). */
function spdxIdOf(value: string): string | undefined {
  spdxIds ??= new Map((JSON.parse(readFileSync(new URL('./spdx-ids.json', import.meta.url), 'utf8')) as string[]).map((id) => [id.toLowerCase(), id]));
  return spdxIds.get(value.toLowerCase());
}

function licenseJson(value: string): Json {
  const id = spdxIdOf(value);
  if (id) return { license: { id } };
  try {
    parseSpdx(value);
    return { expression: value };
  } catch {
    return { license: { name: value } };
  }
}

const HASH_VALUE = /^([a-fA-F0-9]{32})$|^([a-fA-F0-9]{40})$|^([a-fA-F0-9]{64})$|^([a-fA-F0-9]{96})$|^([a-fA-F0-9]{128})$/;

interface Component {
  type: 'application' | 'file' | 'library' | 'operating-system';
  name: string;
  version?: string | undefined;
  bomRef?: string;
  description?: string;
  sha256?: string | undefined;
  license?: string | undefined;
  purl?: string;
  /** Left out when the value is empty. */
  properties?: [string, string | undefined][];
}

function componentJson(c: Component): Json {
  const props = (c.properties ?? []).filter((p): p is [string, string] => !!p[1])
    .sort(([n1, v1], [n2, v2]) => n1.localeCompare(n2) || v1.localeCompare(v2));
  return {
    type: c.type,
    name: c.name,
    version: c.version || undefined,
    'bom-ref': c.bomRef || undefined,
    description: c.description || undefined,
    hashes: c.sha256 ? (HASH_VALUE.test(c.sha256) ? [{ alg: 'SHA-256', content: c.sha256 }] : []) : undefined,
    licenses: c.license ? [licenseJson(c.license)] : undefined,
    purl: c.purl,
    properties: props.length ? props.map(([name, value]) => ({ name, value })) : undefined,
  };
}

function packageComponent(p: InstalledPackage, d: RootfsBomData): Component {
  const purl = packageUrl(p, d.distroId, d.distroVersion);
  return {
    type: 'library', name: p.name, version: p.version, bomRef: purl, license: p.license, purl,
    properties: [
      ['osbuilder:package:type', p.type],
      ['osbuilder:package:arch', p.arch],
      ['osbuilder:package:source-name', p.sourceName],
      ['osbuilder:package:source-version', p.sourceVersion],
    ],
  };
}

export const inputRef = (name: string) => `osbuilder-input:${name}`;

function inputComponent(i: SbomInput): Component {
  return {
    type: i.kind === 'agent' ? 'application' : 'file', name: i.name, version: i.version, bomRef: inputRef(i.name), sha256: i.sha256,
    properties: [
      ['osbuilder:input:kind', i.kind],
      ['osbuilder:input:source', i.source],
      ['osbuilder:input:installed-at', i.installedAt],
    ],
  };
}

/** The rootfs SBOM as JSON text. */
export function rootfsBomJson(d: RootfsBomData): string {
  const rootfs = componentJson({
    type: 'operating-system', name: d.distroId, version: d.distroVersion, bomRef: ROOTFS_REF, description: 'Kata Containers guest rootfs',
    properties: [
      ['osbuilder:architecture', d.arch],
      ['osbuilder:package-database', d.packages ? `${d.packages.type} /${d.packages.database}` : 'none'],
    ],
  });
  const components: Component[] = [];
  const seen = new Set<string>();
  for (const p of d.packages?.packages ?? []) {
    const c = packageComponent(p, d);
    if (seen.has(c.bomRef!)) continue; // a name installed twice in one version (multiarch twins differ by arch)
    seen.add(c.bomRef!);
    components.push(c);
  }
  components.push(...d.inputs.map(inputComponent));
  const refs = components.map((c) => c.bomRef!).sort(byLocale);
  components.sort((a, b) => byLocale(a.bomRef!, b.bomRef!));
  const dependencies: Json[] = [...refs.map((ref) => ({ ref })), { ref: ROOTFS_REF, dependsOn: refs.length ? refs : undefined }]
    .sort((a, b) => byLocale(a.ref, b.ref));
  const timestamp = new Date(d.epoch !== undefined ? d.epoch * 1000 : Date.now()).toISOString();
  const doc = (serialNumber: string) => ({
    $schema: `http://cyclonedx.org/schema/bom-${SPEC_VERSION}.schema.json`,
    bomFormat: 'CycloneDX',
    specVersion: SPEC_VERSION,
    version: 1,
    serialNumber,
    metadata: {
      timestamp,
      tools: { components: [componentJson({ type: 'application', name: 'osbuilder-ts', version: d.osbuilderVersion })] },
      component: rootfs,
    },
    components: components.map(componentJson),
    dependencies,
  });
  return withDerivedSerial((serial) => `${JSON.stringify(doc(serial), null, 2)}\n`);
}
