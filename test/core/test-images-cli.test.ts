// tier: unit
// test-images.ts reads its options and environment through a settings table,
// as the other scripts do: a bad BOOT_TIMEOUT or an unknown option is one
// ERROR before any build.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { parseTestImagesArgs } from '../../test-images.ts';
import { isBuildError } from '../helpers/errors.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

test('BOOT_TIMEOUT, KEEP_TEST_DIR, ARCH and the flags come from the table', () => {
  const { s, distros } = parseTestImagesArgs(['--test-images-only', 'debian'], { BOOT_TIMEOUT: '42', KEEP_TEST_DIR: 'no', ARCH: 'aarch64' });
  assert.equal(distros, ['debian']);
  assert.is(s.bootTimeout, 42);
  assert.is(s.keepTestDir, false);
  assert.is(s.imagesOnly, true);
  assert.is(s.arch, 'aarch64');
  assert.is(parseTestImagesArgs([], {}).s.bootTimeout, 300);
});

test('BOOT_TIMEOUT=abc and 0 are refused by name', () => {
  for (const bad of ['abc', '0', '1.5']) {
    assert.throws(() => parseTestImagesArgs([], { BOOT_TIMEOUT: bad }), isBuildError(/^BOOT_TIMEOUT=/), bad);
  }
  assert.throws(() => parseTestImagesArgs(['--bogus'], {}), isBuildError(/^unknown option --bogus/));
});

test('the script: one ERROR line, exit 1, nothing built', async () => {
  const out = await $({ nothrow: true, cwd: repoRoot, env: { ...process.env, BOOT_TIMEOUT: 'abc' } })`${repoRoot}node_modules/.bin/tsx test-images.ts debian`;
  assert.is(out.exitCode, 1);
  assert.equal(out.stderr.split('\n').filter((l) => l.startsWith('ERROR:')), ['ERROR: BOOT_TIMEOUT=abc is not a whole number: give a number from 1 to 86400']);
  assert.not.match(out.stdout + out.stderr, /Building rootfs/);
});

test.run();
