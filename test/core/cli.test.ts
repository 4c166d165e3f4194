// tier: unit
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isBuildError } from '../helpers/errors.ts';
import { containerEnv, integer, resolveSettings, text, yesNo, truthy } from '../../lib/core/cli.ts';
import { outputSettings, proxySettings, sourceDateEpochSetting } from '../../lib/core/shared-settings.ts';
import { rootfsSettings } from '../../lib/rootfs/settings.ts';
import { imageSettings } from '../../image.ts';
import { initrdSettings } from '../../initrd.ts';

const specs = {
  rootfsDir: { env: 'ROOTFS_DIR', flag: 'r', default: '/default', parse: text, help: 'rootfs dir' },
  agentInit: { env: 'AGENT_INIT', default: 'no' as const, parse: yesNo, help: 'agent is init' },
  freeSpace: { env: 'ROOT_FREE_SPACE', flag: 'r2', default: 0, parse: integer(0, 1000), help: 'MB' },
  deleteUnits: { flag: 'd', default: false, parse: truthy, help: 'delete units' },
};

test('option beats environment beats default', () => {
  assert.is(resolveSettings(specs, {}).rootfsDir, '/default');
  assert.is(resolveSettings(specs, { ROOTFS_DIR: '/env' }).rootfsDir, '/env');
  assert.is(resolveSettings(specs, { ROOTFS_DIR: '/env' }, { r: '/flag' }).rootfsDir, '/flag');
});

test('empty environment variable counts as unset', () => {
  assert.is(resolveSettings(specs, { ROOTFS_DIR: '' }).rootfsDir, '/default');
});

test('boolean options', () => {
  assert.is(resolveSettings(specs, {}, { d: true }).deleteUnits, true);
  assert.is(resolveSettings(specs, {}, { d: false }).deleteUnits, false);
});

test('yes/no and integer parsers reject bad values with a fix', () => {
  assert.throws(() => resolveSettings(specs, { AGENT_INIT: 'maybe' }), isBuildError(/AGENT_INIT=maybe.*yes or no/));
  assert.throws(() => resolveSettings(specs, { ROOT_FREE_SPACE: '-3' }), /not a whole number/);
  assert.throws(() => resolveSettings(specs, { ROOT_FREE_SPACE: '2000' }), /out of range/);
  assert.is(resolveSettings(specs, { ROOT_FREE_SPACE: '12' }).freeSpace, 12);
});

test('SOURCE_DATE_EPOCH has one range in rootfs.ts, image.ts and initrd.ts (a rootfs must stay packable)', () => {
  for (const table of [rootfsSettings, imageSettings, initrdSettings]) {
    const spec = { sourceDateEpoch: table.sourceDateEpoch };
    assert.is(resolveSettings(spec, { SOURCE_DATE_EPOCH: '4294967295' }).sourceDateEpoch, 4294967295);
    assert.throws(() => resolveSettings(spec, { SOURCE_DATE_EPOCH: '4294967296' }), isBuildError(/^SOURCE_DATE_EPOCH=4294967296 is out of range: give a number from 0 to 4294967295$/));
  }
});

test('the shared variables read the same in every table; the container marks decide what enters a build container', () => {
  const env = { DEBUG: 'no', SOURCE_DATE_EPOCH: '7', http_proxy: 'http://p:3128', NO_COLOR: '1' };
  for (const table of [rootfsSettings, imageSettings, initrdSettings]) {
    const s = resolveSettings(table, env) as unknown as Record<string, unknown>;
    assert.is(s.debug, false, 'DEBUG=no is off');
    assert.is(s.sourceDateEpoch, 7);
    assert.is(s.httpProxy, 'http://p:3128');
  }
  const table = { ...outputSettings, ...proxySettings, sourceDateEpoch: sourceDateEpochSetting };
  const inner = new Map(containerEnv(table, resolveSettings(table, env)));
  assert.is(inner.get('DEBUG'), '', "'always': passed, off as empty (as the shell original)");
  assert.is(inner.get('http_proxy'), 'http://p:3128');
  assert.is(inner.get('https_proxy'), '');
  assert.not.ok(inner.has('no_proxy'), "'set': only with a value");
  assert.is(inner.get('SOURCE_DATE_EPOCH'), '7');
  assert.not.ok(inner.has('NO_COLOR'), 'unmarked: stays outside');
});

test.run();
