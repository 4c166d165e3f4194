// Real Debian builds with mmdebstrap (the shared cached fixture, as the image
// and initrd tests use it) checked file by file.
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testAgentBinary } from '../helpers/agent.ts';
import { debianRootfs } from '../helpers/rootfs-fixture.ts';
import { assertKataDebianRootfs } from '../helpers/rootfs-checks.ts';

const read = (root: string, rel: string) => readFileSync(join(root, rel), 'utf8');

test('AGENT_INIT=no: systemd is init, the agent is a service of an enabled kata-containers.target', async () => {
  const root = await debianRootfs({ agentInit: 'no' });
  assertKataDebianRootfs(root, 'no');
  assert.is(readlinkSync(join(root, 'sbin/init')), '/lib/systemd/systemd');
  assert.ok(existsSync(join(root, 'usr/lib/systemd/systemd')));
  const agent = join(root, 'usr/bin/kata-agent');
  assert.ok(statSync(agent).mode & 0o111, 'agent is executable');
  assert.equal(readFileSync(agent), readFileSync(await testAgentBinary()));
  const service = read(root, 'usr/lib/systemd/system/kata-agent.service');
  assert.match(service, /^Type=simple$/m);
  assert.match(service, /^ExecStart=\/usr\/bin\/kata-agent$/m);
  assert.match(service, /^TTYPath=\/dev\/console$/m);
  assert.not.match(service, /journald|udev|tmpfiles/);
  assert.match(read(root, 'usr/lib/systemd/system/kata-containers.target'), /^Requires=kata-agent\.service$/m);
  assert.is(
    readlinkSync(join(root, 'etc/systemd/system/basic.target.wants/kata-containers.target')),
    '/usr/lib/systemd/system/kata-containers.target',
  );
  assert.ok(existsSync(join(root, 'etc/systemd/system/tmp.mount')) || existsSync(join(root, 'usr/lib/systemd/system/tmp.mount')));
});

test('AGENT_INIT=yes: the agent is sbin/init, no agent left in usr/bin', async () => {
  const root = await debianRootfs({ agentInit: 'yes' });
  assertKataDebianRootfs(root, 'yes');
  const init = lstatSync(join(root, 'sbin/init'));
  assert.ok(init.isFile(), 'sbin/init is a regular file');
  assert.equal(readFileSync(join(root, 'sbin/init')), readFileSync(await testAgentBinary()));
  assert.not.ok(existsSync(join(root, 'usr/bin/kata-agent')));
  assert.not.ok(existsSync(join(root, 'etc/systemd/system/basic.target.wants/kata-containers.target')));
});

test.run();
