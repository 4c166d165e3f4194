// tier: unit
// The devkit distro in plan mode: the exact mmdebstrap line (its package
// list, main universe, Ubuntu's mirrors, the hook dropping the host's
// resolv.conf and hostname), then the tree work through the in-tree writer;
// the refusals (OS_VERSION, ROOTFS_ONLY, a bad CUDA pin) as one ERROR before
// any work; the CUDA pin from versions.yaml baked into the nvidia helper.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { DEVKIT_PACKAGES } from '../../rootfs/devkit/config.ts';
import { nvidiaHelperText } from '../../lib/rootfs/devkit.ts';
import { PLAN_ROOT as R, plan, writtenText } from '../helpers/plan-run.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const MMDEBSTRAP = `mmdebstrap --mode=root $'--aptopt=APT::Install-Recommends "false"' --variant=required`;
const HOOKS = `$'--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"' --hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr`;
const LIST = DEVKIT_PACKAGES.join(',');
const KATA_DEPLOY = { ROOTFS_ONLY: 'yes', OS_VERSION: 'resolute', AGENT_INIT: 'no', AGENT_POLICY: 'no', AGENT_TARBALL: '' };
const dir = mkdtempSync('/tmp/osbuilder-devkit-plan-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

test("kata-deploy's call: one mmdebstrap (variant required, main universe, Ubuntu's archive), then busybox.static, the helpers, apt as root, sticky /tmp, trimmed, root 0755", async () => {
  const p = await plan('devkit', { ...KATA_DEPLOY, ARCH: 'x86_64' });
  assert.is(p.exitCode, 0, p.stderr);
  assert.equal(p.commands, [`${MMDEBSTRAP} --arch=amd64 $'--components=main,universe' $'--include=${LIST}' --dpkgopt=force-unsafe-io ${HOOKS} resolute ${R} http://archive.ubuntu.com/ubuntu`]);
  for (const pkg of ['apt', 'busybox-static', 'ltrace', 'tcpdump', 'dnsutils', 'netcat-openbsd']) assert.ok(DEVKIT_PACKAGES.includes(pkg), pkg);
  const writes = p.fileLines.filter((l) => !l.startsWith('#   '));
  const want = [
    `# copy ${R}/usr/bin/busybox ${R}/usr/bin/busybox.static`,
    `# chmod 755 ${R}/usr/bin/busybox.static`,
    ...['devkit-init', 'devkit-enter', 'devkit-add-nvidia-repos'].map((n) => `# chmod 755 ${R}/usr/bin/${n}`),
    `# symlink ${R}/usr/bin/devkit-sh -> devkit-enter`,
    `# chmod 1777 ${R}/tmp`,
    ...['usr/share/man', 'usr/share/doc', 'usr/share/info', 'var/lib/apt/lists', 'var/cache/apt'].map((d) => `# empty ${R}/${d}`),
  ];
  for (const line of want) assert.ok(writes.includes(line), `${line}\n${writes.join('\n')}`);
  assert.is(writes.at(-1), `# chmod 755 ${R}`);
  assert.is(writtenText(p, `${R}/etc/apt/apt.conf.d/99-devkit.conf`), 'APT::Sandbox::User "root";');
  assert.is(writtenText(p, `${R}/usr/bin/devkit-enter`), readFileSync(join(repoRoot, 'rootfs/devkit/devkit-enter.sh'), 'utf8').trimEnd());
  // No agent, no systemd setup, no Debian-root finishing (var/run link, device nodes, CA bundle copy).
  assert.not.ok(p.fileLines.some((l) => /kata-agent|systemd|\/dev\/console|var\/run|ca-certificates\.crt/.test(l)), p.fileLines.join('\n'));
});

test("mirrors as ubuntu's: ports elsewhere, REPO_URL_X86_64 first on x86_64; REPO_COMPONENTS and EXTRA_PKGS reach mmdebstrap", async () => {
  const arm = await plan('devkit', { ...KATA_DEPLOY, ARCH: 'aarch64' });
  assert.match(arm.commands[0]!, / --arch=arm64 .* resolute \S+ http:\/\/ports\.ubuntu\.com\/ubuntu-ports$/);
  const own = await plan('devkit', { ...KATA_DEPLOY, ARCH: 'x86_64', REPO_URL: 'file:///srv/ports', REPO_URL_X86_64: 'file:///srv/ubuntu', REPO_COMPONENTS: 'main', EXTRA_PKGS: 'gdb' });
  assert.match(own.commands[0]!, new RegExp(` --components=main \\$'--include=${LIST},gdb' .* resolute \\S+ file:///srv/ubuntu$`));
});

test("PACKAGE_CACHE_DIR: the devkit shares ubuntu's package cache (the same archive, release suite alone)", async () => {
  const p = await plan('devkit', { ...KATA_DEPLOY, ARCH: 'x86_64', PACKAGE_CACHE_DIR: '/var/cache/pkgs' });
  assert.is(p.exitCode, 0, p.stderr);
  assert.ok(p.commands[0]!.includes(`$'--setup-hook=find /var/cache/pkgs/ubuntu-resolute-amd64-mmdebstrap -maxdepth 1 -type f -name \\'*.deb\\' -exec cp -t "$1"/var/cache/apt/archives/ {} +'`), p.commands[0]);
  const ubuntu = await plan('ubuntu', { OS_VERSION: 'resolute', ARCH: 'x86_64', PACKAGE_CACHE_DIR: '/var/cache/pkgs' });
  assert.ok(ubuntu.commands[0]!.includes('/var/cache/pkgs/ubuntu-resolute-amd64-mmdebstrap '), ubuntu.commands[0]);
});

test('refusals before any work: OS_VERSION unset, no ROOTFS_ONLY, a bad CUDA pin; each one ERROR line', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ ...KATA_DEPLOY, OS_VERSION: '' }, /^ERROR: OS_VERSION is not set and devkit has no default release: set OS_VERSION to the ubuntu release to build, e.g. OS_VERSION=resolute as kata-deploy builds it$/],
    [{ ...KATA_DEPLOY, ROOTFS_ONLY: 'no' }, /^ERROR: devkit is a guest extension, not a guest root \(no init, no agent\): build it with ROOTFS_ONLY=yes, as kata-deploy does$/],
  ];
  const bad = join(dir, 'bad-versions.yaml');
  writeFileSync(bad, 'externals:\n  nvidia:\n    cuda:\n      repo:\n        x86_64:\n          url: "https://example.invalid/x\'; rm -rf /"\n          pkg: "k.deb"\n');
  cases.push([{ ...KATA_DEPLOY, KATA_VERSIONS_FILE: bad }, /^ERROR: externals\.nvidia\.cuda\.repo\.x86_64\.url in \S+ is ".*", not an http\(s\) URL of plain characters: fix the entry or remove both$/]);
  for (const [env, error] of cases) {
    const p = await plan('devkit', { ARCH: 'x86_64', ...env });
    assert.is(p.exitCode, 1, p.stdout);
    const errors = p.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
    assert.is(errors.length, 1, p.stderr);
    assert.match(errors[0]!, error);
    assert.not.ok(p.commands.some((c) => c.startsWith('mmdebstrap')), 'no bootstrap');
  }
});

test('a CUDA pin in KATA_VERSIONS_FILE is baked into devkit-add-nvidia-repos, which then fetches its keyring package', async () => {
  const versions = join(dir, 'versions.yaml');
  writeFileSync(versions, 'externals:\n  nvidia:\n    cuda:\n      repo:\n        x86_64:\n          url: "https://developer.example/cuda/repos/ubuntu2604/x86_64/"\n          pkg: "cuda-keyring_1.1-1_all.deb"\n');
  const p = await plan('devkit', { ...KATA_DEPLOY, ARCH: 'x86_64', KATA_VERSIONS_FILE: versions });
  assert.is(p.exitCode, 0, p.stderr);
  const script = writtenText(p, `${R}/usr/bin/devkit-add-nvidia-repos`)!;
  assert.match(script, /^repo_url='https:\/\/developer\.example\/cuda\/repos\/ubuntu2604\/x86_64'$/m);
  assert.match(script, /^keyring_pkg='cuda-keyring_1\.1-1_all\.deb'$/m);
  // Run it with stand-ins for curl/dpkg/apt-get and an Ubuntu os-release: it gets past its checks and fetches the pinned file.
  const bin = join(dir, 'bin');
  await $`mkdir -p ${bin}`;
  for (const tool of ['curl', 'dpkg', 'apt-get']) writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> ${join(dir, 'calls')}\n`, { mode: 0o755 });
  const runnable = join(dir, 'nvidia.sh');
  writeFileSync(runnable, script.replace('[[ -r /etc/os-release ]]', 'true').replace('. /etc/os-release', 'ID=ubuntu'), { mode: 0o755 });
  const r = await $({ nothrow: true, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } })`bash ${runnable}`;
  assert.is(r.exitCode, 0, r.stderr);
  const calls = readFileSync(join(dir, 'calls'), 'utf8');
  assert.match(calls, /^curl -fsSL -o \S+\/cuda-keyring_1\.1-1_all\.deb https:\/\/developer\.example\/cuda\/repos\/ubuntu2604\/x86_64\/cuda-keyring_1\.1-1_all\.deb$/m);
  assert.match(calls, /^dpkg -i \S+cuda-keyring_1\.1-1_all\.deb$/m);
  assert.match(calls, /^apt-get update$/m);
  // Unpinned: the placeholders become empty and the script refuses.
  const unpinned = join(dir, 'unpinned.sh');
  writeFileSync(unpinned, nvidiaHelperText(readFileSync(join(repoRoot, 'rootfs/devkit/devkit-add-nvidia-repos.sh'), 'utf8'), undefined), { mode: 0o755 });
  const u = await $({ nothrow: true })`bash ${unpinned}`;
  assert.is(u.exitCode, 1);
  assert.match(u.stderr, /without a CUDA repository pin: rebuild it with KATA_VERSIONS_FILE/);
});

test.run();
