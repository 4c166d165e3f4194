// The boot shim's busybox must be static (issue 23, item 9): Debian's plain
// `busybox` package replaces busybox-static with a dynamic binary, and a shim
// built from it panics every disk boot. The check reads the ELF program
// headers: real binaries of this host, no stand-ins.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkStaticBusybox, HOST_BUSYBOX, needsInterpreter } from '../../lib/boot/busybox.ts';
import { shimInitramfs } from '../../lib/boot/shim.ts';
import { isBuildError } from '../helpers/errors.ts';
import { testAgentBinary } from '../helpers/agent.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-busybox-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const dynamicError = /\/bin\/ls is dynamically linked .*No working init found.*: apt-get install busybox-static$/;

test('a dynamic binary (/bin/ls) asks for an interpreter; the static test agent and busybox-static do not', async () => {
  assert.is(needsInterpreter('/bin/ls'), true);
  assert.is(needsInterpreter(await testAgentBinary()), false);
  if (needsInterpreter(HOST_BUSYBOX) !== undefined) assert.is(needsInterpreter(HOST_BUSYBOX), false, 'scripts/setup-host.sh installs busybox-static');
  const text = join(scratch, 'not-elf');
  writeFileSync(text, '#!/bin/sh\necho hi\n');
  assert.is(needsInterpreter(text), undefined);
});

test('checkStaticBusybox: a dynamic busybox is one ERROR naming the fix; a static one passes', async () => {
  assert.throws(() => checkStaticBusybox('/bin/ls'), isBuildError(dynamicError));
  assert.throws(() => checkStaticBusybox(join(scratch, 'none')), isBuildError(/none is missing: install busybox-static \(apt-get install busybox-static\)/));
  const agent = join(scratch, 'busybox');
  copyFileSync(await testAgentBinary(), agent);
  checkStaticBusybox(agent);
});

test('the shim refuses a dynamic busybox before it looks at the kernel or writes anything', async () => {
  const kernel = { release: '0.0-test', vmlinuz: join(scratch, 'vmlinuz'), modulesDir: join(scratch, 'no-modules') };
  await shimInitramfs(kernel, { busybox: '/bin/ls' }).then(
    () => assert.unreachable('a shim was made'),
    (e: Error) => assert.ok(isBuildError(dynamicError)(e), e.message),
  );
});

test.run();
