// The debootstrap path (upstream's method) for real: same checks as the
// mmdebstrap build.
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { debianRootfs } from './helpers/rootfs-fixture.ts';
import { assertKataDebianRootfs } from './helpers/rootfs-checks.ts';

test('DEBIAN_BOOTSTRAP=debootstrap builds the same Kata rootfs', async () => {
  const root = await debianRootfs({ agentInit: 'no', bootstrap: 'debootstrap' });
  assertKataDebianRootfs(root, 'no');
  assert.is(readlinkSync(join(root, 'etc/systemd/system/basic.target.wants/kata-containers.target')), '/usr/lib/systemd/system/kata-containers.target');
});

test.run();
