// tier: unit
// lib/sbom/bom.ts writes the rootfs SBOM itself; the CycloneDX library, which
// wrote it before, is the oracle: the same bytes for real package sets (this
// host's dpkg database, rpm and apk records with Fedora's and Alpine's
// licence strings), every SPDX id the library knows, and the odd cases; each
// document passes the library's strict JSON validator.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readApkInstalled } from '../../lib/sbom/apk.ts';
import { rootfsBomJson, type RootfsBomData } from '../../lib/sbom/bom.ts';
import { readDpkgStatus } from '../../lib/sbom/dpkg.ts';
import type { SbomInput } from '../../lib/sbom/inputs.ts';
import type { InstalledPackage } from '../../lib/sbom/packages.ts';
import { parseRpmQuery } from '../../lib/sbom/rpm.ts';
import { oracleRootfsBomJson } from '../helpers/cyclonedx-oracle.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';
import { assertValidCycloneDx } from '../helpers/sbom.ts';

const INPUTS: SbomInput[] = [
  { name: 'kata-agent', kind: 'agent', source: 'binary /opt/kata/bin/kata-agent', sha256: 'ab'.repeat(32), version: '3.2.0-alpha1 (commit 0123abc)', installedAt: '/usr/bin/kata-agent' },
  { name: 'agent-tarball', kind: 'tarball', source: '/tmp/agent.tar.zst', sha256: 'CD'.repeat(32), installedAt: '/' },
  { name: 'kernel-modules', kind: 'kernel-modules', source: '/lib/modules/6.1.0 "odd" \\ path', sha256: 'ef'.repeat(32), installedAt: '/lib/modules' },
  { name: 'agent-policy', kind: 'policy', source: '/p/allow-all.rego', sha256: 'not-a-digest', installedAt: '/etc/kata-opa/allow-all.rego' },
  { name: 'guest-hooks', kind: 'tarball', source: '/h.tar' },
];

async function assertSameBytes(d: RootfsBomData, what: string): Promise<string> {
  const ours = rootfsBomJson(d);
  const theirs = oracleRootfsBomJson(d);
  if (ours !== theirs) {
    const a = ours.split('\n');
    const b = theirs.split('\n');
    // The serial is derived from the rest: name the first other line that differs.
    const differs = (n: number) => a[n] !== b[n];
    const i = a.findIndex((line, n) => differs(n) && !line.includes('"serialNumber"'));
    if (i < 0) assert.unreachable(`${what}: only the serial numbers differ`);
    assert.unreachable(`${what}: line ${i + 1} differs:\n  ours:    ${a[i]}\n  library: ${b[i]}`);
  }
  await assertValidCycloneDx(ours);
  return ours;
}

const base = { arch: 'x86_64', osbuilderVersion: '0.1.0-test', inputs: INPUTS, epoch: 1_700_000_000 };

test('dpkg: this host\'s whole database (epochs, +, ~ and : in versions, multiarch, source packages)', async () => {
  const status = readFileSync('/var/lib/dpkg/status', 'utf8');
  const packages = readDpkgStatus(status);
  assert.ok(packages.length > 100, `${packages.length} packages in /var/lib/dpkg/status`);
  const text = await assertSameBytes({ ...base, distroId: 'debian', distroVersion: '12', packages: { type: 'deb', database: 'var/lib/dpkg/status', packages } }, 'dpkg');
  assert.ok(JSON.parse(text).components.length >= packages.length / 2);
});

// Licence strings as Fedora records them: SPDX expressions, older Fedora names, "and"/"or".
const RPMS = [
  'bash\t\t5.2.26\t3.fc40\tx86_64\tGPL-3.0-or-later\tbash-5.2.26-3.fc40.src.rpm',
  'openssl-libs\t1\t3.2.1\t2.fc40\tx86_64\tApache-2.0\topenssl-3.2.1-2.fc40.src.rpm',
  'glibc\t\t2.39\t5.fc40\tx86_64\tLGPL-2.1-or-later AND SunPro AND LGPL-2.1-or-later WITH GCC-exception-2.0 AND BSD-3-Clause AND GPL-2.0-or-later AND LGPL-2.1-or-later WITH GNU-compiler-exception AND GPL-2.0-only AND ISC AND LicenseRef-Fedora-Public-Domain AND HPND AND CMU-Mach AND LGPL-2.0-or-later AND Unicode-3.0 AND GFDL-1.1-or-later AND GPL-1.0-or-later AND FSFUL AND MIT AND Inner-Net-2.0 AND X11 AND GPL-2.0-or-later WITH GCC-exception-2.0 AND GFDL-1.3-only AND GFDL-1.1-only\tglibc-2.39-5.fc40.src.rpm',
  'glibc\t\t2.39\t5.fc40\ti686\tLGPL-2.1-or-later\tglibc-2.39-5.fc40.src.rpm',
  'libgcc\t\t14.0.1\t0.15.fc40\tx86_64\tGPLv3+ and GPLv3+ with exceptions and GPLv2+ with exceptions and LGPLv2+ and BSD\tgcc-14.0.1-0.15.fc40.src.rpm',
  'tzdata\t\t2024a\t5.fc40\tnoarch\tLicenseRef-Fedora-Public-Domain AND (GPL-2.0-only WITH GPL-CC-1.0)\ttzdata-2024a-5.fc40.src.rpm',
  'dbus-libs\t1\t1.14.10\t3.fc40\tx86_64\t(AFL-2.1 OR GPL-2.0-or-later) AND GPL-2.0-or-later\tdbus-1.14.10-3.fc40.src.rpm',
  'zlib-ng-compat\t\t2.1.6\t2.fc40\tx86_64\tzlib\tzlib-ng-2.1.6-2.fc40.src.rpm',
  'gpg-pubkey\t\tabcdef01\t12345678\t(none)\tpubkey\t(none)',
  'kernel-core\t\t6.8.5\t301.fc40\tx86_64\tgpl-2.0-only\tkernel-6.8.5-301.fc40.src.rpm',
  'python3\t\t3.12.2\t2.fc40\tx86_64\tPython-2.0.1\tpython3.12-3.12.2-2.fc40.src.rpm',
  'ca-certificates\t\t2023.2.62_v7.0.401\t6.fc40\tnoarch\tMIT AND GPL-2.0-or-later\tca-certificates-2023.2.62_v7.0.401-6.fc40.src.rpm',
  'cyrus-sasl-lib\t\t2.1.28\t19.fc40\tx86_64\tBSD-Attribution-HPND-disclaimer\tcyrus-sasl-2.1.28-19.fc40.src.rpm',
].join('\n');

test('rpm: epochs in the purl qualifier, upstream source rpm, Fedora licence strings', async () => {
  const packages = parseRpmQuery(`${RPMS}\n`);
  assert.is(packages.length, 13);
  const text = await assertSameBytes({ ...base, distroId: 'fedora', distroVersion: '40', packages: { type: 'rpm', database: 'usr/lib/sysimage/rpm', packages } }, 'rpm');
  const lic = (name: string) => JSON.parse(text).components.find((c: { name: string }) => c.name === name).licenses;
  assert.equal(lic('bash'), [{ license: { id: 'GPL-3.0-or-later' } }]);
  assert.equal(lic('kernel-core'), [{ license: { id: 'GPL-2.0-only' } }]);
  assert.equal(lic('dbus-libs'), [{ expression: '(AFL-2.1 OR GPL-2.0-or-later) AND GPL-2.0-or-later' }]);
  assert.equal(lic('libgcc')[0].license.name.slice(0, 6), 'GPLv3+');
});

const APK = `C:Q1abc=
P:musl
V:1.2.5-r0
A:x86_64
L:MIT
o:musl

P:busybox-binsh
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox

P:libcrypto3
V:3.3.1-r0
A:x86_64
L:Apache-2.0
o:openssl

P:ca-certificates-bundle
V:20240226-r0
A:x86_64
L:MPL-2.0 AND MIT
o:ca-certificates

P:scanelf
V:1.3.7-r2
A:x86_64
L:GPL-2.0-only

P:libgcc
V:13.2.1_git20240309-r0
A:x86_64
L:GPL-2.0-or-later AND LGPL-2.1-or-later
o:gcc

P:ssl_client
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox

P:zlib
V:1.3.1-r1
A:x86_64
L:Zlib

P:Odd_Name
V:1-r0
A:x86_64
L:custom:Foo Licence (c) "quoted" \\ 1.0

P:alpine-baselayout-data
V:3.6.5-r0
A:x86_64
L:GPL-2.0-only
o:alpine-baselayout
`;

test('apk: Alpine\'s records, licences of every kind, names that byte order and locale order sort differently', async () => {
  const packages = readApkInstalled(APK);
  assert.is(packages.length, 10);
  await assertSameBytes({ ...base, distroId: 'alpine', distroVersion: '3.20', packages: { type: 'apk', database: 'lib/apk/db/installed', packages } }, 'apk');
});

test('lib/sbom/spdx-ids.json is the library\'s SPDX id list; every id (in any case) is written as the library writes it', async () => {
  const library = JSON.parse(readFileSync(join(repoRoot, 'node_modules/@cyclonedx/cyclonedx-library/res/schema/spdx.SNAPSHOT.schema.json'), 'utf8')).enum as string[];
  const ours = JSON.parse(readFileSync(join(repoRoot, 'lib/sbom/spdx-ids.json'), 'utf8')) as string[];
  assert.equal(ours, library, 'the CycloneDX library\'s SPDX list changed: write its "enum" into lib/sbom/spdx-ids.json');
  const packages: InstalledPackage[] = library.map((id, i) => ({
    type: 'apk', name: `p${i}`, version: '1-r0', arch: 'x86_64',
    license: i % 3 === 0 ? id.toLowerCase() : i % 3 === 1 ? id : `${id} OR MIT`,
  }));
  await assertSameBytes({ ...base, distroId: 'alpine', distroVersion: '3.20', packages: { type: 'apk', database: 'lib/apk/db/installed', packages } }, 'SPDX ids');
});

test('odd cases: no packages, no version, no arch, empty tool version, a name twice in one version', async () => {
  await assertSameBytes({ distroId: 'unknown', distroVersion: '', arch: '', osbuilderVersion: '', inputs: [], epoch: 0 }, 'empty');
  const twice: InstalledPackage = { type: 'deb', name: 'libc6', version: '2.36-9', arch: 'amd64', sourceName: 'glibc', sourceVersion: '2.36-9' };
  await assertSameBytes({
    ...base, distroId: 'debian', distroVersion: '',
    packages: { type: 'deb', database: 'var/lib/dpkg/status', packages: [twice, { ...twice }, { ...twice, arch: 'i386' }, { type: 'deb', name: 'x', version: '', arch: '' }] },
  }, 'twins');
});

test('without SOURCE_DATE_EPOCH the timestamp is now, once for the document and its serial', () => {
  const before = Date.now();
  const doc = JSON.parse(rootfsBomJson({ ...base, distroId: 'debian', distroVersion: '12', epoch: undefined }));
  const at = Date.parse(doc.metadata.timestamp);
  assert.ok(at >= before - 1 && at <= Date.now(), doc.metadata.timestamp);
});

test.run();
