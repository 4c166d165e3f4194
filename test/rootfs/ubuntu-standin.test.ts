// DISTRO=ubuntu OS_VERSION=resolute against the stand-in archive (Debian's
// packages published as resolute, test/helpers/ubuntu-archive.ts): a host
// build as root with mmdebstrap, REPO_URL the stand-in, APT_KEYRING its key,
// made into an image that boots to the test agent.
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import { AGENT_MARKER, testAgentBinary } from '../helpers/agent.ts';
import { runImageTs } from '../helpers/image-fixture.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { startUbuntuArchive, type UbuntuArchive } from '../helpers/ubuntu-archive.ts';

const s = suite('ubuntu resolute from the stand-in archive, host build');
const work = mkdtempSync('/var/tmp/osb-ubuntu-standin-');
let archive: UbuntuArchive;
const lexists = (path: string) => { try { lstatSync(path); return true; } catch { return false; } };

s.before(async () => {
  archive = await startUbuntuArchive();
});
s.after(async () => {
  await archive?.stop();
  rmSync(work, { recursive: true, force: true });
});

s('APT_KEYRING that is not a file: one ERROR naming it, nothing written', async () => {
  const dest = join(work, 'bad');
  const out = await runRootfs(['-r', dest, 'ubuntu'], { OS_VERSION: 'resolute', REPO_URL: archive.repoUrl, APT_KEYRING: join(work, 'missing.gpg'), AGENT_SOURCE_BIN: await testAgentBinary() });
  assert.is.not(out.exitCode, 0);
  const errors = out.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
  assert.is(errors.length, 1, out.stderr);
  assert.match(errors[0]!, /APT_KEYRING=.*missing\.gpg is not an existing file/);
  assert.not.ok(existsSync(dest));
});

s('mmdebstrap as root: resolute from REPO_URL alone, trusted through APT_KEYRING, boots to the agent', async () => {
  const rootfs = join(work, 'rootfs');
  const start = Date.now();
  const out = await runRootfs(['-d', '-r', rootfs, 'ubuntu'], {
    OS_VERSION: 'resolute', REPO_URL: archive.repoUrl, APT_KEYRING: archive.keyring, AGENT_SOURCE_BIN: await testAgentBinary(), AGENT_INIT: 'no', DEBIAN_BOOTSTRAP: 'mmdebstrap',
  });
  assert.is(out.exitCode, 0, `${out.stdout.slice(-2000)}\n${out.stderr.slice(-3000)}`);
  const rootfsSeconds = (Date.now() - start) / 1000;
  // The release suite alone, from the stand-in (upstream's explicit-mirror behaviour).
  const sources = ['etc/apt/sources.list', ...readdirSync(join(rootfs, 'etc/apt/sources.list.d')).map((f) => `etc/apt/sources.list.d/${f}`)]
    .filter((f) => existsSync(join(rootfs, f))).map((f) => readFileSync(join(rootfs, f), 'utf8')).join('\n');
  assert.match(sources, new RegExp(`${archive.repoUrl.replace(/[.:/]/g, '\\$&')}\\s+resolute\\s+main`));
  assert.not.match(sources, /resolute-(updates|security)/);
  // The package list's files (the setup drops dpkg's database); lstat: links are the guest's, not the host's.
  for (const file of ['usr/sbin/chronyd', 'usr/sbin/iptables', 'usr/bin/dbus-daemon', 'usr/sbin/veritysetup', 'usr/sbin/mkfs.ext4', 'usr/lib/x86_64-linux-gnu/libseccomp.so.2', 'usr/sbin/init']) {
    assert.ok(lexists(join(rootfs, file)), `${file} in the tree`);
  }
  const image = join(work, 'ubuntu.img');
  const built = await runImageTs(['-o', image, rootfs]);
  assert.is(built.exitCode, 0, built.stderr);
  const boot = await bootGuest({ image, timeoutSeconds: 400 });
  assert.ok(boot.markerSeen, `${AGENT_MARKER} from the resolute image; last lines:\n${boot.console.split('\n').slice(-15).join('\n')}`);
  console.log(`ubuntu resolute (stand-in) host rootfs: ${rootfsSeconds.toFixed(0)} s`);
});

s.run();
