// tier: unit
// DEBUG reads as every yes/no variable does: DEBUG=no (or 0, false, empty)
// keeps commands quiet; DEBUG=1 echoes them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { isOn } from '../../lib/core/yes-no.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

// As an entry point does: resolve the output settings from the environment once, configure, run.
const script = [
  "const { configureOutput, resolveSettings } = await import('./lib/core/cli.ts');",
  "const { outputSettings } = await import('./lib/core/shared-settings.ts');",
  "const { $ } = await import('./lib/core/exec.ts');",
  'configureOutput(resolveSettings(outputSettings, process.env));',
  'await $`echo osb-debug-probe`;',
].join('\n');
const run = async (debug: string) => {
  const out = await $({ cwd: repoRoot, env: { ...process.env, DEBUG: debug, NO_COLOR: '1', FORCE_COLOR: '0' } })`node --import tsx/esm --input-type=module -e ${script}`;
  return (out.stdout + out.stderr).replace(/\x1b\[[0-9;]*m/g, '');
};

test('yes/no values', () => {
  for (const off of ['', 'no', 'No', 'false', 'FALSE', '0']) assert.is(isOn(off), false, off);
  for (const on of ['1', 'yes', 'true', 'y']) assert.is(isOn(on), true, on);
  assert.is(isOn(undefined), false);
});

test('DEBUG=no and DEBUG=0 echo no command; DEBUG=1 does', async () => {
  const offs = ['no', '0', 'false'];
  const [on, ...outs] = await Promise.all(['1', ...offs].map(run));
  offs.forEach((off, i) => assert.not.match(outs[i]!, /\$ echo osb-debug-probe/, `DEBUG=${off}`));
  assert.match(on, /\$ echo osb-debug-probe/);
});

test.run();
