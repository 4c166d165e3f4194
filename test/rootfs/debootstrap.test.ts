// The debootstrap path (upstream's method) for real: same checks as the
// mmdebstrap build, plus EXTRA_PKGS installed with apt-get in the chroot and
// REPO_COMPONENTS beyond main.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { debianRootfs } from '../helpers/rootfs-fixture.ts';
import { assertKataDebianRootfs } from '../helpers/rootfs-checks.ts';

test('DEBIAN_BOOTSTRAP=debootstrap builds the same Kata rootfs, with EXTRA_PKGS and REPO_COMPONENTS', async () => {
  const root = await debianRootfs({ agentInit: 'no', bootstrap: 'debootstrap', extraPkgs: 'netbase', components: 'main contrib' });
  assertKataDebianRootfs(root, 'no');
  // netbase's files (it is not in minbase): the apt-get install in the chroot ran.
  assert.match(readFileSync(join(root, 'etc/protocols'), 'utf8'), /^tcp\s+6\s+TCP/m);
  assert.ok(existsSync(join(root, 'etc/services')));
  // debootstrap writes the components it was given into the guest's apt sources.
  assert.match(readFileSync(join(root, 'etc/apt/sources.list'), 'utf8'), /^deb \S+ bookworm main contrib$/m);
  assert.is(readlinkSync(join(root, 'etc/systemd/system/basic.target.wants/kata-containers.target')), '/usr/lib/systemd/system/kata-containers.target');
});

test.run();
