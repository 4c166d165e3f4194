// tier: unit
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statsTable } from '../../lib/boot/stats.ts';
import { parseTestConfig } from '../../test-images.ts';

test('stats table: upstream columns plus boot time, smallest image first', () => {
  const table = statsTable([
    { name: 'debian', type: 'image', imageBytes: 402653184, rootfsBytes: 255000000, bootSeconds: 31.24 },
    { name: 'debian-agent-init', type: 'initrd', imageBytes: 117258524, rootfsBytes: 254000000, bootSeconds: 4.5 },
    { name: 'a-very-long-distro-name-indeed', type: 'image', imageBytes: 500000000, rootfsBytes: 1 },
  ]).split('\n');
  assert.is(table.length, 4);
  assert.equal(table[0]!.split('\t').map((c) => c.trim()), ['image-bytes', 'image-MB', 'rootfs-bytes', 'rootfs-MB', 'Type', 'Name', 'boot-s']);
  assert.equal(table[1]!.split('\t').map((c) => c.trim()), ['117258524', '111.83', '254000000', '242.23', 'initrd', 'debian-agent-init', '4.5']);
  assert.equal(table[2]!.split('\t').map((c) => c.trim()), ['402653184', '384.00', '255000000', '243.19', 'image', 'debian', '31.2']);
  const last = table[3]!.split('\t');
  assert.is(last[5], 'a-very-long-distro-n', 'names are cut to 20 like printf %-20.20s');
  assert.is(last[6]!.trim(), 'FAILED');
  assert.is(last[0]!.length, 12);
});

test('rootfs.ts -t output is read as upstream reads it', () => {
  const cfg = parseTestConfig('INIT_PROCESS:\t\tsystemd\nARCH_EXCLUDE_LIST:\t\tppc64le s390x\n');
  assert.equal(cfg, { initProcess: 'systemd', archExclude: ['ppc64le', 's390x'] });
  assert.equal(parseTestConfig('INIT_PROCESS:\t\tkata-agent\nARCH_EXCLUDE_LIST:\t\t\n').archExclude, []);
});

test.run();
