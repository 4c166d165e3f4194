// tier: unit
// Plan mode knows the new guest variables: the policy copy and link, the
// confidential edits, the unpack line of each tarball; ROOTFS_ONLY plans
// no Kata setup at all.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { PLAN_ROOT, plan } from '../helpers/plan-run.ts';
import { makeTar } from '../helpers/tar-writer.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-plan-guest-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('debian plan with AGENT_POLICY, CONFIDENTIAL_GUEST and the three tarballs', async () => {
  const policy = join(scratch, 'my-policy.rego');
  writeFileSync(policy, 'package agent_policy\n');
  const tarballs: Record<string, string> = {};
  for (const variable of ['GUEST_HOOKS_TARBALL', 'PAUSE_IMAGE_TARBALL', 'COCO_GUEST_COMPONENTS_TARBALL']) {
    const tar = join(scratch, `${variable}.tar`);
    writeFileSync(tar, makeTar([{ name: `opt/${variable}`, data: 'x' }]));
    await $`gzip -q ${tar}`;
    tarballs[variable] = `${tar}.gz`;
  }
  const p = await plan('debian', { AGENT_POLICY: 'yes', AGENT_POLICY_FILE: policy, CONFIDENTIAL_GUEST: 'yes', ...tarballs });
  assert.is(p.exitCode, 0, p.stderr);
  assert.ok(p.fileLines.includes(`# copy ${policy} ${PLAN_ROOT}/etc/kata-opa/my-policy.rego`), p.fileLines.join('\n'));
  assert.ok(p.fileLines.includes(`# chmod 644 ${PLAN_ROOT}/etc/kata-opa/my-policy.rego`));
  assert.ok(p.fileLines.includes(`# symlink ${PLAN_ROOT}/etc/kata-opa/default-policy.rego -> my-policy.rego`));
  assert.ok(p.fileLines.includes(`# edit ${PLAN_ROOT}/etc/fstab`));
  assert.ok(p.fileLines.includes(`# edit ${PLAN_ROOT}/usr/lib/systemd/system/kata-containers.target`));
  assert.not.ok(p.commands.some((c) => c.startsWith('tar ')), 'no tar: the archives are read and written by tar-unpack.ts');
  const unpacks = p.fileLines.filter((l) => l.startsWith('# unpack '));
  assert.equal(unpacks, ['GUEST_HOOKS_TARBALL', 'PAUSE_IMAGE_TARBALL', 'COCO_GUEST_COMPONENTS_TARBALL'].map((v) => `# unpack ${tarballs[v]} ${PLAN_ROOT}`));
});

test('ROOTFS_ONLY=yes plans the distro stage alone', async () => {
  const p = await plan('debian', { ROOTFS_ONLY: 'yes', AGENT_POLICY: 'yes' });
  assert.is(p.exitCode, 0, p.stderr);
  assert.is(p.commands.length, p.distroCommands.length, 'no setup commands');
  assert.not.ok(p.fileLines.some((l) => l.includes('kata-opa') || l.includes('osbuilder.yaml') || l.includes('kata-agent')), p.fileLines.join('\n'));
});

test('a missing policy file is one ERROR before anything is planned', async () => {
  const p = await plan('debian', { AGENT_POLICY: 'yes', AGENT_POLICY_FILE: join(scratch, 'missing.rego') });
  assert.is.not(p.exitCode, 0);
  assert.match(p.stderr, /^ERROR: AGENT_POLICY_FILE=.*missing\.rego does not exist: give an existing rego file$/m);
  assert.is(p.commands.length, 0);
});

test.run();
