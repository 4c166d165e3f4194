// The SBOM of a dnf build (fedora from a local repository of stand-in rpms):
// exactly the set `rpm -qa --root` lists, with licence and source rpm, valid
// CycloneDX.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { ROOTFS_SBOM_PATH } from '../../lib/sbom/paths.ts';
import { readRpm, rpmDbPath } from '../../lib/sbom/rpm.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_STAND_INS } from '../helpers/rpm-repo.ts';
import { assertValidCycloneDx, runSbom, sbomPackages, setupCopy, type Json } from '../helpers/sbom.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-sbom-dnf-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('a fedora build lists exactly rpm -qa --root, with licence, source rpm and purl', async () => {
  const repo = await buildRpmRepo(join(scratch, 'rpms'), [...FEDORA_STAND_INS, { name: 'sbom-extra', files: { 'usr/share/sbom-extra': 'x\n' } }]);
  const stage = join(scratch, 'stage');
  const env = { REPO_URL: `file://${repo}`, EXTRA_PKGS: 'sbom-extra', SOURCE_DATE_EPOCH: '1700000000' };
  const out = await runRootfs(['-r', stage, 'fedora'], { ...env, STAGE_PREPARE_ROOTFS: '1' });
  assert.is(out.exitCode, 0, out.stderr);
  const db = rpmDbPath(stage);
  assert.ok(db, 'dnf left an rpm database');
  // Reading the database leaves it as it is (sqlite writes its -shm on open; the tree may share inodes with the cache).
  const dbFiles = () => Object.fromEntries(readdirSync(join(stage, db!)).map((f) => [f, createHash('sha256').update(readFileSync(join(stage, db!, f))).digest('hex')]));
  const before = dbFiles();
  assert.ok((await readRpm(stage))?.packages.some((p) => p.name === 'sbom-extra'));
  assert.equal(dbFiles(), before, 'the SBOM reader wrote nothing into the tree\'s rpm database');
  const rpm = (await $`rpm -qa --root ${stage} --dbpath ${`/${db}`} --qf ${'%{NAME} %{VERSION}-%{RELEASE}\\n'}`).stdout.trim().split('\n').sort();
  assert.ok(rpm.includes('sbom-extra 1.0-1'), rpm.join(', '));


  const root = join(scratch, 'rootfs');
  await setupCopy(stage, root, { ...env, AGENT_SOURCE_BIN: await testAgentBinary() });
  const text = readFileSync(join(root, ROOTFS_SBOM_PATH), 'utf8');
  const doc = JSON.parse(text);
  assert.equal(sbomPackages(doc), rpm);
  const extra = (doc.components as Json[]).find((c) => c.name === 'sbom-extra')!;
  assert.equal(extra.licenses, [{ license: { id: 'MIT' } }]);
  assert.match(extra.purl, /^pkg:rpm\/[a-z]+\/sbom-extra@1\.0-1\?arch=noarch/);
  assert.ok((extra.properties as Json[]).some((p) => p.name === 'osbuilder:package:source-name' && p.value === 'sbom-extra'));
  await assertValidCycloneDx(text);
  const table = await runSbom([root]);
  assert.match(table.stdout, /^sbom-extra\s+1\.0-1\s+noarch/m);
});

test.run();
