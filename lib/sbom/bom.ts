// The CycloneDX document of a rootfs tree, built with the CycloneDX library
// (@cyclonedx/cyclonedx-library): the tree as the described component, one
// component per installed package and one per input osbuilder-ts put in.
// Byte-reproducible: sorted lists, serial number derived from the content,
// timestamp from SOURCE_DATE_EPOCH.
// Sub-paths: the package root also loads the validator, whose schema files
// are found through __dirname, which a bundle (container builds) lacks.
import * as License from '@cyclonedx/cyclonedx-library/Contrib/License';
import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import * as Serialize from '@cyclonedx/cyclonedx-library/Serialize';
import * as Spec from '@cyclonedx/cyclonedx-library/Spec';
import { PackageURL } from 'packageurl-js';
import parseSpdx from 'spdx-expression-parse';
import type { SbomInput } from './inputs.ts';
import type { InstalledPackage, PackageSet } from './packages.ts';
import { withDerivedSerial } from './serial.ts';

export const SPEC = Spec.Spec1dot6;
export const SPEC_VERSION = Spec.Version.v1dot6;
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

const licenseFactory = new License.Factories.LicenseFactory((expr) => {
  parseSpdx(expr);
});

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

function property(name: string, value: string | undefined): Models.Property[] {
  return value ? [new Models.Property(name, value)] : [];
}

function packageComponent(p: InstalledPackage, d: RootfsBomData): Models.Component {
  const purl = packageUrl(p, d.distroId, d.distroVersion);
  const c = new Models.Component(Enums.ComponentType.Library, p.name, {
    version: p.version,
    bomRef: purl,
    purl,
  });
  if (p.license) c.licenses.add(licenseFactory.makeFromString(p.license));
  for (const prop of [
    ...property('osbuilder:package:type', p.type),
    ...property('osbuilder:package:arch', p.arch),
    ...property('osbuilder:package:source-name', p.sourceName),
    ...property('osbuilder:package:source-version', p.sourceVersion),
  ]) c.properties.add(prop);
  return c;
}

export const inputRef = (name: string) => `osbuilder-input:${name}`;

function inputComponent(i: SbomInput): Models.Component {
  const type = i.kind === 'agent' ? Enums.ComponentType.Application : Enums.ComponentType.File;
  const c = new Models.Component(type, i.name, { bomRef: inputRef(i.name), ...(i.version ? { version: i.version } : {}) });
  if (i.sha256) c.hashes.set(Enums.HashAlgorithm['SHA-256'], i.sha256);
  for (const prop of [
    ...property('osbuilder:input:kind', i.kind),
    ...property('osbuilder:input:source', i.source),
    ...property('osbuilder:input:installed-at', i.installedAt),
  ]) c.properties.add(prop);
  return c;
}

export function rootfsBom(d: RootfsBomData): Models.Bom {
  const bom = new Models.Bom();
  const rootfs = new Models.Component(Enums.ComponentType.OperatingSystem, d.distroId, {
    bomRef: ROOTFS_REF,
    ...(d.distroVersion ? { version: d.distroVersion } : {}),
    description: 'Kata Containers guest rootfs',
  });
  for (const prop of [
    ...property('osbuilder:architecture', d.arch),
    ...property('osbuilder:package-database', d.packages ? `${d.packages.type} /${d.packages.database}` : 'none'),
  ]) rootfs.properties.add(prop);
  bom.metadata.component = rootfs;
  bom.metadata.timestamp = new Date(d.epoch !== undefined ? d.epoch * 1000 : Date.now());
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, 'osbuilder-ts', { version: d.osbuilderVersion }));
  const seen = new Set<string>();
  for (const p of d.packages?.packages ?? []) {
    const c = packageComponent(p, d);
    if (seen.has(String(c.bomRef.value))) continue; // a name installed twice in one version (multiarch twins differ by arch)
    seen.add(String(c.bomRef.value));
    bom.components.add(c);
    rootfs.dependencies.add(c.bomRef);
  }
  for (const i of d.inputs) {
    const c = inputComponent(i);
    bom.components.add(c);
    rootfs.dependencies.add(c.bomRef);
  }
  return bom;
}

export function serializeBom(bom: Models.Bom): string {
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(SPEC));
  return withDerivedSerial((serial) => {
    bom.serialNumber = serial;
    return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
  });
}

/** The rootfs SBOM as JSON text. */
export function rootfsBomJson(d: RootfsBomData): string {
  return serializeBom(rootfsBom(d));
}
