// tier: unit
// The rootless plan's pure parts (lib/core/userns.ts): the caller's line of
// /etc/subuid, the sysctl that turns user namespaces off, unshare's mapping.
// The real runs are test/rootfs/rootless.test.ts's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { subordinateRange, unshareArgv, usernsDisabledReason } from '../../lib/core/userns.ts';

test('subordinateRange: the first line of the caller, by name or by uid; none for others or broken lines', () => {
  const file = 'alice:100000:65536\n1001:200000:65536\nbob:x:5\nbob:300000:1000\n';
  assert.equal(subordinateRange(file, 'alice', 1000), { start: 100000, count: 65536 });
  assert.equal(subordinateRange(file, 'carol', 1001), { start: 200000, count: 65536 });
  assert.equal(subordinateRange(file, 'bob', 1002), { start: 300000, count: 1000 }, 'the broken line is skipped');
  assert.is(subordinateRange(file, 'dave', 1003), undefined);
  assert.is(subordinateRange('eve:1:0\n', 'eve', 1004), undefined, 'an empty range is none');
});

test('usernsDisabledReason: each sysctl by its name, none when they allow namespaces', () => {
  const sysctls = (values: Record<string, string>) => (path: string) => values[path] ?? '';
  assert.is(usernsDisabledReason(sysctls({ '/proc/sys/user/max_user_namespaces': '15000' })), undefined);
  assert.match(usernsDisabledReason(sysctls({ '/proc/sys/user/max_user_namespaces': '0' }))!, /^user\.max_user_namespaces is 0/);
  assert.match(usernsDisabledReason(sysctls({ '/proc/sys/kernel/unprivileged_userns_clone': '0' }))!, /kernel\.unprivileged_userns_clone=1/);
  assert.match(usernsDisabledReason(sysctls({ '/proc/sys/kernel/apparmor_restrict_unprivileged_userns': '1' }))!, /kernel\.apparmor_restrict_unprivileged_userns=0/);
});

test('unshareArgv: the caller is root, its ranges 1..N, a mount namespace and a /dev/shm of its own', () => {
  const argv = unshareArgv({ uid: 1000, gid: 1000, user: 'alice', uids: { start: 100000, count: 65536 }, gids: { start: 200000, count: 70000 } }, ['node', 'rootfs.ts']);
  assert.equal(argv, [
    'unshare', '--map-root-user', '--map-users=100000,1,65536', '--map-groups=200000,1,70000', '--mount', '--propagation', 'private', '--',
    'sh', '-c', 'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec "$@"', 'sh', 'node', 'rootfs.ts',
  ]);
});

test.run();
