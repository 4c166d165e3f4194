// Real Debian builds with today's Kata variables: kata-deploy's confidential
// command line through `make rootfs-debian image-debian` (policy found beside
// a fixture agent source tree, built with make; CoCo, pause and hooks
// tarballs), and ROOTFS_ONLY.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { RUN_TMPFS_LINE, fstabWithRunTmpfs, targetWithRemount } from '../../lib/rootfs/confidential.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { cleanEnv, repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';
import { makeTar, type TarSpec } from '../helpers/tar-writer.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-confidential-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

async function zstdTar(name: string, entries: TarSpec[]): Promise<string> {
  const tar = join(scratch, `${name}.tar`);
  writeFileSync(tar, makeTar(entries));
  await $`zstd -q --rm ${tar}`;
  return `${tar}.zst`;
}

/** A Kata source tree as far as the builder reads it: src/agent (the fixture) and src/kata-opa/allow-all.rego. */
function kataTree(): string {
  const kata = join(scratch, 'kata');
  cpSync(join(repoRoot, 'test/fixtures/agent-src'), join(kata, 'src/agent'), { recursive: true });
  mkdirSync(join(kata, 'src/kata-opa'), { recursive: true });
  writeFileSync(join(kata, 'src/kata-opa/allow-all.rego'), 'package agent_policy\ndefault AllowRequestsFailingPolicy := true\n');
  return kata;
}

const mode = (path: string) => {
  const st = lstatSync(path);
  return `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
};

test('fstab and target edits: /run lines replaced, Requires added once', () => {
  assert.is(fstabWithRunTmpfs('# comment\nproc /proc proc defaults 0 0\ntmpfs /run tmpfs size=10% 0 0\n'),
    `# comment\nproc /proc proc defaults 0 0\n${RUN_TMPFS_LINE}\n`);
  assert.is(fstabWithRunTmpfs(''), `${RUN_TMPFS_LINE}\n`);
  const once = targetWithRemount('[Unit]\nRequires=basic.target\n');
  assert.is(once, '[Unit]\nRequires=basic.target\nRequires=systemd-remount-fs.service\n');
  assert.is(targetWithRemount(once), once);
});

test("make rootfs-debian image-debian with kata-deploy's confidential command line", async () => {
  const kata = kataTree();
  const coco = await zstdTar('coco', [
    { name: 'usr/local/bin/attestation-agent', data: '#!/bin/sh\n', mode: 0o755 },
    { name: 'usr/local/bin/confidential-data-hub', data: '#!/bin/sh\n', mode: 0o750, uid: 0, gid: 123 },
    { name: 'etc/ocicrypt_config.json', data: '{"key-providers":{}}\n', mode: 0o600 },
  ]);
  const pause = await zstdTar('pause', [
    { name: 'pause_bundle/config.json', data: '{}\n', mode: 0o640, uid: 65535, gid: 65535 },
    { name: 'pause_bundle/rootfs/pause', data: 'pause\n', mode: 0o755, uid: 65535, gid: 65535 },
  ]);
  const hooks = await zstdTar('hooks', [{ name: 'usr/share/oci/hooks/prestart/hook.sh', data: '#!/bin/sh\n', mode: 0o700 }]);
  const dest = join(scratch, 'build');
  mkdirSync(dest);
  const vars = {
    BUILD_VARIANT: 'confidential', CONFIDENTIAL_GUEST: 'yes', MEASURED_ROOTFS: 'yes', AGENT_POLICY: 'yes',
    COCO_GUEST_COMPONENTS_TARBALL: coco, PAUSE_IMAGE_TARBALL: pause, GUEST_HOOKS_TARBALL: hooks,
  };
  const env = { ...cleanEnv(), PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), AGENT_SOURCE_DIR: join(kata, 'src/agent') };
  const out = await $({ cwd: repoRoot, env, nothrow: true })`make rootfs-debian image-debian ROOTFS_BUILD_DEST=${dest} IMAGES_BUILD_DEST=${dest} ${Object.entries(vars).map(([k, v]) => `${k}=${v}`)}`;
  assert.is(out.exitCode, 0, `${out.stdout.slice(-3000)}\n${out.stderr.slice(-3000)}`);
  const root = join(dest, 'debian_rootfs');

  // The agent was built from source with AGENT_POLICY=yes on its make line.
  assert.is((await $`${join(root, 'usr/bin/kata-agent')}`).stdout.trim(), 'fixture-agent version=1.0.0-fixture libc=musl init=no seccomp=yes policy=yes');
  // Policy: the allow-all file beside the agent sources, 0644 root, and the default link.
  assert.is(readFileSync(join(root, 'etc/kata-opa/allow-all.rego'), 'utf8'), readFileSync(join(kata, 'src/kata-opa/allow-all.rego'), 'utf8'));
  assert.is(mode(join(root, 'etc/kata-opa/allow-all.rego')), '644 0:0');
  assert.is(readlinkSync(join(root, 'etc/kata-opa/default-policy.rego')), 'allow-all.rego');
  // Confidential: /run tmpfs in fstab, the (make install) target requires systemd-remount-fs.
  const fstab = readFileSync(join(root, 'etc/fstab'), 'utf8').split('\n');
  assert.equal(fstab.filter((l) => l.includes('/run')), [RUN_TMPFS_LINE]);
  const target = readFileSync(join(root, 'usr/lib/systemd/system/kata-containers.target'), 'utf8');
  assert.match(target, /fixture target \(from make install\)/);
  assert.match(target, /^Requires=systemd-remount-fs\.service$/m);
  assert.ok(existsSync(join(root, 'usr/lib/systemd/system/systemd-remount-fs.service')), 'Debian ships the unit the target requires');
  // Each tarball's files, owners and modes kept.
  assert.is(mode(join(root, 'usr/local/bin/attestation-agent')), '755 0:0');
  assert.is(mode(join(root, 'usr/local/bin/confidential-data-hub')), '750 0:123');
  assert.is(mode(join(root, 'etc/ocicrypt_config.json')), '600 0:0');
  assert.is(mode(join(root, 'pause_bundle/config.json')), '640 65535:65535');
  assert.is(mode(join(root, 'pause_bundle/rootfs/pause')), '755 65535:65535');
  assert.is(mode(join(root, 'usr/share/oci/hooks/prestart/hook.sh')), '700 0:0');
  assert.ok(existsSync(join(root, 'var/lib/osbuilder/osbuilder.yaml')));
  // The manifest records the new inputs.
  const manifest = JSON.parse(readFileSync(join(dest, '.debian_rootfs.manifest.json'), 'utf8')).inputs;
  for (const k of ['AGENT_POLICY', 'AGENT_POLICY_FILE', 'CONFIDENTIAL_GUEST', 'COCO_GUEST_COMPONENTS_TARBALL', 'PAUSE_IMAGE_TARBALL', 'GUEST_HOOKS_TARBALL']) assert.ok(manifest[k], k);
  // The SBOM names each input with its sha256.
  const sbom = JSON.parse(readFileSync(join(root, 'var/lib/osbuilder/sbom.cdx.json'), 'utf8')) as { components: { name: string; hashes?: { content: string }[] }[] };
  const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
  const inputs: [string, string][] = [['coco-guest-components', coco], ['pause-image', pause], ['guest-hooks', hooks], ['agent-policy', join(kata, 'src/kata-opa/allow-all.rego')]];
  for (const [name, path] of inputs) {
    assert.is(sbom.components.find((c) => c.name === name)?.hashes?.[0]?.content, sha(path), name);
  }

  // The measured image and its root hash, as kata-deploy picks them up.
  assert.ok(statSync(join(dest, 'kata-containers-image-debian.img')).size > 0);
  const hash = readFileSync(join(dest, 'root_hash_confidential.txt'), 'utf8');
  assert.match(hash, /^root_hash=[0-9a-f]{64},salt=[0-9a-f]{64},data_blocks=\d+,data_block_size=4096,hash_block_size=4096\n?$/);
});

test('ROOTFS_ONLY=yes: the distro tree alone, no agent, no Kata setup, no summary', async () => {
  const root = join(scratch, 'rootfs-only');
  const out = await runRootfs(['-r', root, 'debian'], { ROOTFS_ONLY: 'yes', AGENT_POLICY: 'yes', CONFIDENTIAL_GUEST: 'yes' });
  assert.is(out.exitCode, 0, out.stderr);
  assert.match(out.stdout, /ROOTFS_ONLY set: skipping agent and systemd setup/);
  assert.ok(existsSync(join(root, 'usr/lib/systemd/systemd')), 'the distro is there');
  for (const absent of ['usr/bin/kata-agent', 'var/lib/osbuilder/osbuilder.yaml', 'etc/kata-opa', 'usr/lib/systemd/system/kata-containers.target']) {
    assert.not.ok(existsSync(join(root, absent)), absent);
  }
  assert.not.match(readFileSync(join(root, 'etc/fstab'), 'utf8'), /\/run/);
});

test.run();
