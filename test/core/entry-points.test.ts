// The scripts at upstream's paths, which kata-deploy's devkit extension calls
// (rootfs-builder/rootfs.sh, image-builder/image_builder.sh,
// initrd-builder/initrd_builder.sh): the same arguments and environment
// reach our scripts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot, runImageTs, syntheticRootfs } from '../helpers/image-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-entry-points-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const tsx = join(repoRoot, 'node_modules/.bin/tsx');

for (const [script, ts] of [['rootfs-builder/rootfs.sh', 'rootfs.ts'], ['image-builder/image_builder.sh', 'image.ts'], ['initrd-builder/initrd_builder.sh', 'initrd.ts']]) {
  test(`${script} -h is ${ts} -h`, async () => {
    const ours = await $({ nothrow: true })`${join(repoRoot, script)} -h`;
    const direct = await $({ nothrow: true })`${tsx} ${join(repoRoot, ts)} -h`;
    assert.is(ours.exitCode, direct.exitCode);
    assert.is(ours.stdout, direct.stdout);
    assert.match(ours.stdout, /Usage:/);
  });
}

test('image_builder.sh -o builds the image image.ts builds, with the environment (FS_TYPE) passed on', async () => {
  const root = await syntheticRootfs(scratch);
  const out = await $({ nothrow: true, cwd: scratch, env: { ...process.env, FS_TYPE: 'erofs', SKIP_DAX_HEADER: 'yes', SOURCE_DATE_EPOCH: '1700000000' } })`${join(repoRoot, 'image-builder/image_builder.sh')} -o ${join(scratch, 'via-script.img')} ${root}`;
  assert.is(out.exitCode, 0, out.stderr);
  const direct = await runImageTs(['-o', join(scratch, 'direct.img'), root], { FS_TYPE: 'erofs', SKIP_DAX_HEADER: 'yes', SOURCE_DATE_EPOCH: '1700000000' }, scratch);
  assert.is(direct.exitCode, 0, direct.stderr);
  assert.ok(readFileSync(join(scratch, 'via-script.img')).equals(readFileSync(join(scratch, 'direct.img'))), 'the same bytes');
});

test('rootfs.sh with an unknown option: rootfs.ts\'s one ERROR and its exit code', async () => {
  const out = await $({ nothrow: true })`${join(repoRoot, 'rootfs-builder/rootfs.sh')} --no-such-option`;
  assert.is.not(out.exitCode, 0);
  assert.equal(out.stderr.split('\n').filter((l) => l.startsWith('ERROR:')).length, 1, out.stderr);
});

test.run();
