// tier: unit
// The package database readers and the diff on small inputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readApkInstalled } from '../../lib/sbom/apk.ts';
import { packageUrl, rootfsBomJson } from '../../lib/sbom/bom.ts';
import { readDpkg, readDpkgStatus } from '../../lib/sbom/dpkg.ts';
import { readOsRelease } from '../../lib/sbom/os-release.ts';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRpmQuery } from '../../lib/sbom/rpm.ts';
import { diffSboms, formatDiff } from '../../lib/sbom/load.ts';
import { outputSbomJson, parseVerityLine } from '../../lib/sbom/output.ts';
import { assertValidCycloneDx } from '../helpers/sbom.ts';

const STATUS = `Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library
 multi-line description

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Source: bash (5.2.15-2)

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
`;

test('dpkg status: installed packages only, source name and version', () => {
  assert.equal(readDpkgStatus(STATUS), [
    { type: 'deb', name: 'bash', version: '5.2.15-2+b2', arch: 'amd64', sourceName: 'bash', sourceVersion: '5.2.15-2' },
    { type: 'deb', name: 'libc6', version: '2.36-9+deb12u4', arch: 'amd64', sourceName: 'glibc', sourceVersion: '2.36-9+deb12u4' },
  ]);
});

test('apk installed db: name, version, arch, licence, origin', () => {
  const db = 'C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:busybox-binsh\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\n';
  assert.equal(readApkInstalled(db), [
    { type: 'apk', name: 'busybox-binsh', version: '1.36.1-r15', arch: 'x86_64', license: 'GPL-2.0-only', sourceName: 'busybox', sourceVersion: '1.36.1-r15' },
    { type: 'apk', name: 'musl', version: '1.2.4-r2', arch: 'x86_64', license: 'MIT', sourceName: 'musl', sourceVersion: '1.2.4-r2' },
  ]);
});

test('rpm query: epoch in the version and the purl qualifier, source rpm split', () => {
  const [p] = parseRpmQuery('openssl-libs\t1\t3.1.1\t4.fc40\tx86_64\tApache-2.0\topenssl-3.1.1-4.fc40.src.rpm\n');
  assert.equal(p, { type: 'rpm', name: 'openssl-libs', version: '1:3.1.1-4.fc40', arch: 'x86_64', epoch: '1', license: 'Apache-2.0', sourceName: 'openssl', sourceVersion: '3.1.1-4.fc40' });
  assert.is(packageUrl(p!, 'fedora', '40'), 'pkg:rpm/fedora/openssl-libs@3.1.1-4.fc40?arch=x86_64&distro=fedora-40&epoch=1&upstream=openssl');
});

const bom = (pkgs: string) => rootfsBomJson({
  distroId: 'alpine', distroVersion: '3.19', arch: 'x86_64', osbuilderVersion: 't', epoch: 0,
  packages: { type: 'apk', database: 'lib/apk/db/installed', packages: readApkInstalled(pkgs) },
  inputs: [{ name: 'kata-agent', kind: 'agent', source: 'binary /x', sha256: 'ab'.repeat(32), version: '1', installedAt: '/usr/bin/kata-agent' }],
});

test('licences that are not SPDX expressions become named licences; the document validates', async () => {
  const text = bom('P:odd\nV:1-r0\nA:x86_64\nL:Some Custom Licence\n\nP:dual\nV:2-r0\nA:x86_64\nL:MIT OR Apache-2.0\n');
  const doc = JSON.parse(text);
  const lic = (n: string) => doc.components.find((c: any) => c.name === n).licenses;
  assert.equal(lic('odd'), [{ license: { name: 'Some Custom Licence' } }]);
  assert.equal(lic('dual'), [{ expression: 'MIT OR Apache-2.0' }]);
  await assertValidCycloneDx(text);
  const out = outputSbomJson(text, { output: '/o/kata.img', file: '/o/kata.img', kind: 'disk-image', verityLine: 'root_hash=aa,salt=bb,data_blocks=1', epoch: 0 }, 'cd'.repeat(32), 4096);
  await assertValidCycloneDx(out);
  assert.equal(parseVerityLine('root_hash=aa,salt=bb'), { root_hash: 'aa', salt: 'bb' });
});

test('diff: added, removed, version changes, changed inputs', () => {
  const a = JSON.parse(bom('P:a\nV:1-r0\nA:x86_64\n\nP:b\nV:1-r0\nA:x86_64\n'));
  const b = JSON.parse(bom('P:b\nV:2-r0\nA:x86_64\n\nP:c\nV:1-r0\nA:x86_64\n'));
  assert.is(formatDiff(diffSboms(a, b)), '- a 1-r0 (x86_64)\n~ b 1-r0 -> 2-r0 (x86_64)\n+ c 1-r0 (x86_64)\n1 added, 1 removed, 1 changed, 0 inputs changed\n');
});

test('the readers see the tree as the guest does: var -> /var and etc -> /etc never reach the host\'s files', () => {
  const scratch = mkdtempSync('/var/tmp/osbuilder-sbom-links-');
  try {
    const linked = join(scratch, 'linked');
    mkdirSync(linked);
    symlinkSync('/var', join(linked, 'var'));
    symlinkSync('/etc', join(linked, 'etc'));
    // This host has /var/lib/dpkg/status and /etc/os-release; the tree has neither.
    assert.is(readDpkg(linked), undefined);
    assert.equal(readOsRelease(linked), {});
    // Absolute links that lead inside the tree are followed there. (Made by
    // their real paths: writing through the links would write the host's files.)
    const guest = join(scratch, 'guest');
    mkdirSync(join(guest, 'guestvar/lib/dpkg'), { recursive: true });
    writeFileSync(join(guest, 'guestvar/lib/dpkg/status'), 'Package: guest-only\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n');
    symlinkSync('/guestvar', join(guest, 'var'));
    mkdirSync(join(guest, 'usr/lib'), { recursive: true });
    writeFileSync(join(guest, 'usr/lib/os-release'), 'ID=guestos\nVERSION_ID=7\n');
    mkdirSync(join(guest, 'etc'));
    symlinkSync('/usr/lib/os-release', join(guest, 'etc/os-release'));
    assert.equal(readDpkg(guest)!.packages.map((p) => p.name), ['guest-only']);
    assert.equal(readOsRelease(guest), { id: 'guestos', versionId: '7' });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test.run();
