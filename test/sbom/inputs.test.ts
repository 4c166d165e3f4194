// The inputs osbuilder-ts puts in show up in the rootfs SBOM: the agent
// from AGENT_TARBALL (sha256 of the tarball and of the installed binary) and
// KERNEL_MODULES_DIR (a digest of the tree), on an overlay of an existing
// directory (rootfs.ts -r DIR, no distro).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { treeSha256 } from '../../lib/sbom/inputs.ts';
import { ROOTFS_SBOM_PATH } from '../../lib/sbom/paths.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { assertValidCycloneDx, runSbom, sha256Of, type Json } from '../helpers/sbom.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-sbom-inputs-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('AGENT_TARBALL and KERNEL_MODULES_DIR are components with their sha256', async () => {
  const payload = join(scratch, 'payload');
  mkdirSync(join(payload, 'usr/bin'), { recursive: true });
  copyFileSync(await testAgentBinary(), join(payload, 'usr/bin/kata-agent'));
  const tarball = join(scratch, 'kata-agent.tar.zst');
  await $`tar --zstd -cf ${tarball} -C ${payload} usr`;
  const modules = join(scratch, '6.1.0-test');
  mkdirSync(join(modules, 'kernel'), { recursive: true });
  writeFileSync(join(modules, 'kernel/dummy.ko'), 'not really a module\n');
  writeFileSync(join(modules, 'modules.dep'), '');
  const root = join(scratch, 'rootfs');
  mkdirSync(root);
  const out = await runRootfs(['-r', root], { AGENT_TARBALL: tarball, KERNEL_MODULES_DIR: modules, AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: '0' });
  assert.is(out.exitCode, 0, out.stderr);
  const text = readFileSync(join(root, ROOTFS_SBOM_PATH), 'utf8');
  const doc = JSON.parse(text);
  const byName = (n: string) => (doc.components as Json[]).find((c) => c.name === n)!;
  const prop = (c: Json, n: string) => (c.properties as Json[]).find((p) => p.name === n)?.value;
  const agent = byName('kata-agent');
  assert.is(agent.hashes[0].content, sha256Of(join(root, 'sbin/init')), 'the agent as installed (init, AGENT_INIT=yes)');
  assert.is(prop(agent, 'osbuilder:input:installed-at'), '/sbin/init');
  assert.is(prop(agent, 'osbuilder:input:source'), `tarball ${tarball}`);
  const tar = byName('agent-tarball');
  assert.is(tar.hashes[0].content, sha256Of(tarball));
  const mods = byName('kernel-modules');
  assert.is(mods.hashes[0].content, treeSha256(modules));
  assert.is(prop(mods, 'osbuilder:input:source'), modules);
  assert.is(prop(doc.metadata.component, 'osbuilder:package-database'), 'none');
  await assertValidCycloneDx(text);
});

test('the tree digest changes with any content, name or mode change', () => {
  const dir = join(scratch, 'digest');
  mkdirSync(join(dir, 'a'), { recursive: true });
  writeFileSync(join(dir, 'a/f'), 'x');
  const before = treeSha256(dir);
  writeFileSync(join(dir, 'a/f'), 'y');
  const content = treeSha256(dir);
  assert.is.not(content, before);
  $.sync`chmod 600 ${join(dir, 'a/f')}`;
  assert.is.not(treeSha256(dir), content);
});

test('sbom.ts on bad input: one ERROR line naming the problem, non-zero exit', async () => {
  const img = join(scratch, 'no-sbom.img');
  writeFileSync(img, 'x');
  for (const [args, message] of [
    [[join(scratch, 'missing')], /does not exist: give a rootfs directory/],
    [[img], /has no SBOM beside it \(.*no-sbom\.img\.cdx\.json\)/],
    [[join(scratch, 'digest')], /has neither \/var\/lib\/osbuilder\/sbom\.cdx\.json nor a package database/],
  ] as const) {
    const r = await runSbom([...args]);
    assert.is.not(r.exitCode, 0);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
    assert.is(errors.length, 1, r.stderr);
    assert.match(errors[0]!, message);
  }
});

test.run();
