// `make install-scripts DESTDIR=…` (as packagers run it) installs a copy that
// works on its own: every distro config loads (they import lib.ts), the
// three scripts at upstream's paths run through the installed launcher, and
// an image is built from a rootfs by the installed image_builder.sh (its
// SBOM needs lib/sbom's JSON). The node modules are linked in, as `npm ci`
// in the installed directory (or the upstream-path scripts' first use)
// would provide them.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot, syntheticRootfs } from '../helpers/image-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-install-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const installed = join(scratch, 'dest/usr/libexec/kata-containers/osbuilder');
const env = { ...process.env, XDG_CACHE_HOME: join(scratch, 'cache'), DEBUG: '' };

test('make install-scripts: scripts executable, distros listed from the installed copy', async () => {
  const out = await $({ cwd: scratch, nothrow: true })`make -s -f ${join(repoRoot, 'Makefile')} install-scripts DESTDIR=${join(scratch, 'dest')}`;
  assert.is(out.exitCode, 0, out.stderr);
  for (const f of ['rootfs.ts', 'image.ts', 'initrd.ts', 'scripts/launch.mjs', 'rootfs-builder/rootfs.sh', 'image-builder/image_builder.sh', 'initrd-builder/initrd_builder.sh']) {
    assert.ok((statSync(join(installed, f)).mode & 0o111) !== 0, `${f} is executable`);
  }
  for (const f of ['lib.ts', 'Makefile', 'lib/sbom/spdx-ids.json', 'lib/boot/dm-create.c', 'rootfs/devkit/devkit-init.sh', 'rootfs/debian/Dockerfile.in']) assert.ok(existsSync(join(installed, f)), f);
  assert.not.ok(existsSync(join(installed, 'test')), 'no tests installed');
  symlinkSync(join(repoRoot, 'node_modules'), join(installed, 'node_modules'));
  const listed = await $({ env, nothrow: true })`node ${join(installed, 'scripts/launch.mjs')} ${join(installed, 'rootfs.ts')} -l`;
  assert.is(listed.exitCode, 0, listed.stderr);
  assert.equal(listed.stdout.trim().split('\n'), (await $`node ${join(repoRoot, 'scripts/launch.mjs')} ${join(repoRoot, 'rootfs.ts')} -l`).stdout.trim().split('\n'));
});

test('the installed image_builder.sh builds an image and its SBOM', async () => {
  const root = await syntheticRootfs(scratch);
  const image = join(scratch, 'kata.img');
  const out = await $({ env: { ...env, SOURCE_DATE_EPOCH: '1700000000' }, nothrow: true })`${join(installed, 'image-builder/image_builder.sh')} -o ${image} ${root}`;
  assert.is(out.exitCode, 0, out.stderr);
  assert.ok(statSync(image).size > 0);
  const sbom = JSON.parse(readFileSync(`${image}.cdx.json`, 'utf8'));
  assert.is(sbom.metadata.component.name, 'kata.img');
});

test.run();
