// tier: unit
// A plan of a full build changes nothing on the disk: `rootfs.ts --dry-run -d`
// of debian and fedora with every setup step's input (the agent, kernel
// modules, EXTRA_PKGS, the policy, the confidential edits, the three guest
// tarballs) walks every step of the setup, and the parent of ROOTFS_DIR, the
// distro-tree and package caches and TMPDIR list the same paths, types,
// sizes and mtimes after it as before; ROOTFS_DIR is never made.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { makeTar } from '../helpers/tar-writer.ts';
import { runRootfsInProcess } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-plan-disk-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const dirs = { out: join(scratch, 'out'), distroCache: join(scratch, 'distro-cache'), packageCache: join(scratch, 'package-cache'), tmp: join(scratch, 'tmp') };
for (const d of Object.values(dirs)) mkdirSync(d);
// Something in each that may hold other files (a cache must be empty or its own), so a change to what is there shows too.
for (const d of [dirs.out, dirs.tmp]) writeFileSync(join(d, 'kept'), 'x');
const rootfsDir = join(dirs.out, 'rootfs');

/** path type size mtime of everything under `dir`, itself included. */
function listing(dir: string): string[] {
  const st = lstatSync(dir);
  const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
  const self = `${dir} ${type} ${st.isDirectory() ? '' : st.size} ${st.mtimeMs}`;
  // tsx (the runner of rootfs.ts) may keep its compile cache in TMPDIR: not the build's.
  const entries = st.isDirectory() ? readdirSync(dir).filter((e) => !e.startsWith('tsx-')).sort() : [];
  return [self, ...entries.flatMap((e) => listing(join(dir, e)))];
}
const snapshot = () => Object.values(dirs).flatMap(listing);

async function inputs(): Promise<Record<string, string>> {
  const inputsDir = join(scratch, 'inputs');
  mkdirSync(join(inputsDir, 'modules/6.1.0-kata'), { recursive: true });
  writeFileSync(join(inputsDir, 'modules/6.1.0-kata/modules.dep'), '');
  writeFileSync(join(inputsDir, 'policy.rego'), 'package agent_policy\n');
  const env: Record<string, string> = {
    AGENT_SOURCE_BIN: '/bin/true', KERNEL_MODULES_DIR: join(inputsDir, 'modules/6.1.0-kata'), EXTRA_PKGS: 'less',
    AGENT_POLICY: 'yes', AGENT_POLICY_FILE: join(inputsDir, 'policy.rego'), CONFIDENTIAL_GUEST: 'yes',
    DISTRO_CACHE_DIR: dirs.distroCache, PACKAGE_CACHE_DIR: dirs.packageCache, TMPDIR: dirs.tmp,
  };
  for (const variable of ['GUEST_HOOKS_TARBALL', 'PAUSE_IMAGE_TARBALL', 'COCO_GUEST_COMPONENTS_TARBALL']) {
    const tar = join(inputsDir, `${variable}.tar`);
    writeFileSync(tar, makeTar([{ name: `opt/${variable}`, data: 'x' }]));
    await $`gzip -q ${tar}`;
    env[variable] = `${tar}.gz`;
  }
  return env;
}

const ENV = await inputs();

for (const [distro, extra] of [['debian', {}], ['fedora', { REPO_URL: 'file:///srv/repo/fedora' }]] as const) {
  test(`${distro}: the plan of a full build walks every setup step and leaves the disk as it was`, async () => {
    const before = snapshot();
    const out = await runRootfsInProcess(['--dry-run', '-d', '-r', rootfsDir, distro], { ...ENV, ...extra });
    assert.is(out.exitCode, 0, out.stderr);
    const lines = out.stdout.split('\n');
    const has = (line: string) => assert.ok(lines.includes(line), `planned: ${line}`);
    // The distro stage, then each setup step.
    assert.ok(lines.some((l) => l.startsWith(`+ ${distro === 'debian' ? 'mmdebstrap' : 'dnf'} `) && /[ ,]less\b/.test(l)), 'the distro stage with EXTRA_PKGS');
    has(`# symlink ${rootfsDir}/var/tmp -> ../tmp`);
    has(`# write ${rootfsDir}/etc/systemd/system/tmp.mount`);
    has(`# rename ${rootfsDir}/lib/modules/.6.1.0-kata.osbuilder-new-${lines.find((l) => l.includes('.6.1.0-kata.osbuilder-new-'))?.match(/new-(\d+)/)?.[1]} ${rootfsDir}/lib/modules/6.1.0-kata`);
    assert.ok(lines.some((l) => l.startsWith(`# edit ${rootfsDir}/etc/chrony`)), 'chrony');
    has(`# copy /bin/true ${rootfsDir}/usr/bin/kata-agent`);
    has(`# write ${rootfsDir}/usr/lib/systemd/system/kata-agent.service`);
    has(`# edit ${rootfsDir}/etc/fstab`);
    has(`# symlink ${rootfsDir}/etc/kata-opa/default-policy.rego -> policy.rego`);
    for (const v of ['GUEST_HOOKS_TARBALL', 'PAUSE_IMAGE_TARBALL', 'COCO_GUEST_COMPONENTS_TARBALL']) has(`# unpack ${ENV[v]} ${rootfsDir}`);
    has(`# write ${rootfsDir}/etc/resolv.conf`);
    assert.ok(lines.some((l) => l.startsWith('# remove ') && l.endsWith(` under ${rootfsDir}`)), '-d');
    has(`# write ${rootfsDir}/var/lib/osbuilder/osbuilder.yaml`);
    assert.ok(lines.some((l) => l.startsWith(`# write ${rootfsDir}/var/lib/osbuilder/sbom.cdx.json`)), 'the SBOM');
    assert.equal(snapshot(), before, 'nothing under the output parent, the caches or TMPDIR changed');
    assert.not.ok(existsSync(rootfsDir), 'ROOTFS_DIR not made');
  });
}

test.run();
