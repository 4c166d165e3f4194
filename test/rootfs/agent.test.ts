// tier: unit
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { AGENT_MARKER, testAgentBinary } from '../helpers/agent.ts';

test('test agent is a static binary that prints its marker', async () => {
  const bin = await testAgentBinary();
  const file = await $`file -b ${bin}`;
  assert.match(file.stdout, /statically linked/);
  const out = await $`${bin} --version`;
  assert.is(out.stdout.trim(), AGENT_MARKER);
});

test.run();
