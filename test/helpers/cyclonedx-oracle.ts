// The rootfs SBOM built with the CycloneDX library (@cyclonedx/cyclonedx-library):
// the oracle lib/sbom/bom.ts, which writes the same document directly, is
// compared with (test/sbom/bom-oracle.test.ts). This is how bom.ts built it
// before it stopped loading the library at run time.
// Sub-paths: the package root also loads the validator.
import * as License from '@cyclonedx/cyclonedx-library/Contrib/License';
import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import * as Serialize from '@cyclonedx/cyclonedx-library/Serialize';
import * as Spec from '@cyclonedx/cyclonedx-library/Spec';
import parseSpdx from 'spdx-expression-parse';
import { inputRef, packageUrl, ROOTFS_REF, type RootfsBomData } from '../../lib/sbom/bom.ts';
import type { SbomInput } from '../../lib/sbom/inputs.ts';
import type { InstalledPackage } from '../../lib/sbom/packages.ts';
import { withDerivedSerial } from '../../lib/sbom/serial.ts';

export const SPEC = Spec.Spec1dot6;
export const SPEC_VERSION = Spec.Version.v1dot6;

const licenseFactory = new License.Factories.LicenseFactory((expr) => {
  parseSpdx(expr);
});

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

function rootfsBom(d: RootfsBomData): Models.Bom {
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
    if (seen.has(String(c.bomRef.value))) continue;
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

/** The rootfs SBOM text as the library serializes it. */
export function oracleRootfsBomJson(d: RootfsBomData): string {
  const bom = rootfsBom(d);
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(SPEC));
  return withDerivedSerial((serial) => {
    bom.serialNumber = serial;
    return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
  });
}
