// tier: unit
// rootfs.ts's architecture errors: an unknown ARCH lists the supported ones;
// a foreign ARCH whose qemu-user handler is neither registered nor
// registrable names the packages to install. The second runs in a private
// mount namespace (unshare -m) where binfmt_misc shows no handlers and the
// registration files of qemu-user-static/binfmt-support are hidden; the
// host's own registrations are not touched. Nothing is written.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHandler, registrationLine } from '../../lib/rootfs/binfmt.ts';
import { $ } from '../../lib/core/exec.ts';
import { testAgentBinary } from '../helpers/agent.ts';
import { cleanEnv, repoRoot, runRootfsInProcess } from '../helpers/rootfs-fixture.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-arch-errors-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.includes('ERROR:'));

test('binfmt_misc handler files and binfmt.d lines are read', () => {
  const h = parseHandler('enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n');
  assert.equal(h, { enabled: true, interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P', flags: 'PF' });
  assert.is(parseHandler('disabled\ninterpreter /x\nflags: P\n').enabled, false);
  assert.is(registrationLine('# comment\n:qemu-s390x:M::\\x7fELF:\\xff:/usr/libexec/qemu-binfmt/s390x-binfmt-P:FPC\n'), ':qemu-s390x:M::\\x7fELF:\\xff:/usr/libexec/qemu-binfmt/s390x-binfmt-P:FPC');
});

test('unknown ARCH: one ERROR listing the supported architectures, nothing written', async () => {
  const root = join(scratch, 'unknown');
  const out = await runRootfsInProcess(['-r', root, 'debian'], { ARCH: 'mips64', AGENT_SOURCE_BIN: await testAgentBinary() });
  assert.is(out.exitCode, 1);
  assert.equal(errorLines(out.stderr), ['ERROR: ARCH=mips64 is not a supported architecture: use one of x86_64, aarch64, ppc64le, s390x'], out.stderr);
  assert.not.ok(existsSync(root));
});

test('ARCH=s390x without a registrable qemu-user handler: one ERROR naming the packages, nothing written', async () => {
  const root = join(scratch, 'nohandler');
  const tsx = join(repoRoot, 'node_modules/.bin/tsx');
  const hide = [
    'mount -t tmpfs none /proc/sys/fs/binfmt_misc', 'touch /proc/sys/fs/binfmt_misc/register /proc/sys/fs/binfmt_misc/status',
    'mount -t tmpfs none /usr/lib/binfmt.d', 'mount -t tmpfs none /usr/share/binfmts',
  ].join(' && ');
  const env = { ...cleanEnv(), ARCH: 's390x', AGENT_SOURCE_BIN: await testAgentBinary('s390x'), PACKAGE_CACHE_DIR: 'no' };
  const out = await $({ nothrow: true, cwd: repoRoot, env })`unshare -m --propagation private sh -c ${`${hide} && exec "$0" rootfs.ts -r "$1" debian`} ${tsx} ${root}`;
  assert.is(out.exitCode, 1, out.stderr);
  const errors = errorLines(out.stderr);
  assert.is(errors.length, 1, out.stderr);
  assert.match(errors[0]!, /ARCH=s390x needs s390x binaries to run on this x86_64 host, but no binfmt_misc handler qemu-s390x is registered and none could be: install qemu-user-static binfmt-support/);
  assert.not.ok(existsSync(root));
  assert.not.match(out.stderr, /mmdebstrap/, 'nothing ran');
});

test.run();
