// The SBOM of a real Debian build (mmdebstrap): exactly dpkg-query's package
// set, a valid CycloneDX document, byte-identical for the same tree and
// SOURCE_DATE_EPOCH; the image's and initrd's SBOM carry their real sha256
// and the verity root hash; --diff shows a changed EXTRA_PKGS.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { ROOTFS_SBOM_PATH } from '../../lib/sbom/paths.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { debianRootfs, repoRoot } from '../helpers/rootfs-fixture.ts';
import { assertValidCycloneDx, debianStage, runSbom, sbomPackages, setupCopy, sha256Of, type Json } from '../helpers/sbom.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-sbom-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const EPOCH = '1700000000';
let stage = '';
let a = '';
let env: Record<string, string> = {};

test.before(async () => {
  stage = await debianStage();
  env = { AGENT_SOURCE_BIN: await testAgentBinary(), SOURCE_DATE_EPOCH: EPOCH };
  a = join(scratch, 'a');
  await setupCopy(stage, a, env);
});

test('the SBOM lists exactly the packages and versions dpkg-query lists, and validates', async () => {
  const text = readFileSync(join(a, ROOTFS_SBOM_PATH), 'utf8');
  const doc = JSON.parse(text);
  const dpkg = (await $`dpkg-query --admindir=${join(stage, 'var/lib/dpkg')} -W -f=${'${Package} ${Version}\\n'}`).stdout.trim().split('\n').sort();
  assert.ok(dpkg.length > 50, `a real Debian tree (${dpkg.length} packages)`);
  assert.equal(sbomPackages(doc), dpkg);
  const libc = (doc.components as Json[]).find((c) => c.name === 'libc6')!;
  assert.match(libc.purl, /^pkg:deb\/debian\/libc6@[^?]+\?arch=amd64&distro=debian-12&upstream=glibc$/);
  const agent = (doc.components as Json[]).find((c) => c.name === 'kata-agent')!;
  assert.is(agent.hashes[0].content, sha256Of(join(a, 'usr/bin/kata-agent')), 'the installed agent');
  assert.is(doc.metadata.timestamp, new Date(Number(EPOCH) * 1000).toISOString());
  assert.ok(existsSync(join(a, 'var/lib/osbuilder/osbuilder.yaml')), 'the summary file is still there');
  await assertValidCycloneDx(text);
});

test('two builds of the same tree with the same SOURCE_DATE_EPOCH give byte-identical SBOMs', async () => {
  const b = join(scratch, 'b');
  await setupCopy(stage, b, env);
  assert.ok(readFileSync(join(a, ROOTFS_SBOM_PATH)).equals(readFileSync(join(b, ROOTFS_SBOM_PATH))));
});

test('image.ts (MEASURED_ROOTFS) writes IMAGE.cdx.json with the real sha256 and the root hash of root_hash_<variant>.txt', async () => {
  const out = join(scratch, 'out');
  await $`mkdir -p ${out}`;
  const image = join(out, 'kata.img');
  const r = await $({ cwd: repoRoot, nothrow: true, env: { ...process.env, MEASURED_ROOTFS: 'yes', BUILD_VARIANT: 'sbom', SOURCE_DATE_EPOCH: EPOCH } })`${join(repoRoot, 'node_modules/.bin/tsx')} image.ts -o ${image} ${a}`;
  assert.is(r.exitCode, 0, r.stderr);
  const text = readFileSync(`${image}.cdx.json`, 'utf8');
  const doc = JSON.parse(text);
  assert.is(doc.metadata.component.hashes[0].content, sha256Of(image));
  const line = readFileSync(join(out, 'root_hash_sbom.txt'), 'utf8').trim();
  const prop = (n: string) => (doc.metadata.component.properties as Json[]).find((p) => p.name === n)?.value;
  assert.is(prop('osbuilder:verity:root_hash'), /root_hash=([0-9a-f]+)/.exec(line)![1]);
  assert.is(prop('osbuilder:verity:salt'), /salt=([0-9a-f]+)/.exec(line)![1]);
  assert.equal(sbomPackages(doc), sbomPackages(JSON.parse(readFileSync(join(a, ROOTFS_SBOM_PATH), 'utf8'))), 'the rootfs packages carried over');
  await assertValidCycloneDx(text);
  const table = await runSbom([image]);
  assert.is(table.exitCode, 0, table.stderr);
  assert.match(table.stdout, /^libc6\s+\S+\s+amd64\s+glibc /m);
  assert.match(table.stdout, new RegExp(`sha256 ${sha256Of(image)}`));
});

test('initrd.ts writes INITRD.cdx.json with the real sha256', async () => {
  const initrd = join(scratch, 'out', 'kata-initrd.img');
  const r = await $({ cwd: repoRoot, nothrow: true, env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH } })`${join(repoRoot, 'node_modules/.bin/tsx')} initrd.ts -o ${initrd} ${a}`;
  assert.is(r.exitCode, 0, r.stderr);
  const text = readFileSync(`${initrd}.cdx.json`, 'utf8');
  assert.is(JSON.parse(text).metadata.component.hashes[0].content, sha256Of(initrd));
  await assertValidCycloneDx(text);
});

test('an uncompressed initrd (hashed as it is written, never read back) carries its real sha256', async () => {
  const initrd = join(scratch, 'out', 'kata-initrd.cpio');
  const r = await $({ cwd: repoRoot, nothrow: true, env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, INITRD_COMPRESSION: 'none' } })`${join(repoRoot, 'node_modules/.bin/tsx')} initrd.ts -o ${initrd} ${a}`;
  assert.is(r.exitCode, 0, r.stderr);
  const text = readFileSync(`${initrd}.cdx.json`, 'utf8');
  assert.is(JSON.parse(text).metadata.component.hashes[0].content, sha256Of(initrd));
  await assertValidCycloneDx(text);
});

test('two images of the same tree with the same SOURCE_DATE_EPOCH get byte-identical SBOMs with the real sha256', async () => {
  const docs: Buffer[] = [];
  for (const name of ['one', 'two']) {
    const out = join(scratch, `same-${name}`);
    await $`mkdir -p ${out}`;
    const image = join(out, 'kata.img');
    const r = await $({ cwd: repoRoot, nothrow: true, env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH } })`${join(repoRoot, 'node_modules/.bin/tsx')} image.ts -o ${image} ${a}`;
    assert.is(r.exitCode, 0, r.stderr);
    docs.push(readFileSync(`${image}.cdx.json`));
    assert.is(JSON.parse(docs.at(-1)!.toString()).metadata.component.hashes[0].content, sha256Of(image), `${name}: the sha256 recomputed here`);
  }
  assert.ok(docs[0]!.equals(docs[1]!), 'the same bytes');
  await assertValidCycloneDx(docs[0]!.toString());
});

test('sbom.ts --diff shows a changed EXTRA_PKGS', async () => {
  const withLess = await debianRootfs({ agentInit: 'no', extraPkgs: 'less' });
  const r = await runSbom([a, '--diff', withLess]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^\+ less \S+ \(amd64\)$/m);
  assert.match(r.stdout, /^\d+ added, 0 removed, 0 changed, /m);
  const same = await runSbom([a, '--diff', join(scratch, 'b')]);
  assert.match(same.stdout, /^0 added, 0 removed, 0 changed, 0 inputs changed$/m);
});

test.run();
