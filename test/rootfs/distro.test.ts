// The seven distro configs as data: names, -t output, package lists as a
// function of AGENT_INIT/SECCOMP/arch (as upstream's config.sh files), the
// builders' pure pieces (apk, dnf, Debian arch names) and the Dockerfiles.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apkAddArgs, mainRepository, mirrorFromRepositories } from '../../lib/rootfs/apk.ts';
import { debianArch, distrosDir, listDistros, loadDistro, testConfigText } from '../../lib/rootfs/distro.ts';
import type { PackageInputs } from '../../lib/rootfs/types.ts';
import { dnfInstallArgs } from '../../lib/rootfs/dnf.ts';
import { generateDockerfileText, needsImageRegistry } from '../../lib/container/dockerfile.ts';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot, runRootfs } from '../helpers/rootfs-fixture.ts';

const SEVEN = ['alpine', 'cbl-mariner', 'centos', 'debian', 'devkit', 'fedora', 'ubuntu'];

test('seven distros (devkit the guest extension among them), sorted: -l and make list-distros', async () => {
  assert.equal(listDistros(), SEVEN);
  const make = await $({ cwd: repoRoot, nothrow: true })`make -s list-distros`;
  assert.is(make.exitCode, 0, make.stderr);
  assert.equal(make.stdout.trim().split('\n'), SEVEN);
});

test('-t DISTRO: init process and excluded architectures', async () => {
  const init: Record<string, string> = { alpine: 'kata-agent', 'cbl-mariner': 'systemd', centos: 'systemd', debian: 'systemd', devkit: 'systemd', fedora: 'systemd', ubuntu: 'systemd' };
  for (const d of SEVEN) {
    assert.is(testConfigText(await loadDistro(d, 'x86_64')), `INIT_PROCESS:\t\t${init[d]}\nARCH_EXCLUDE_LIST:\t\t\n`, d);
  }
  const out = await runRootfs(['-t', 'alpine']);
  assert.is(out.stdout, 'INIT_PROCESS:\t\tkata-agent\nARCH_EXCLUDE_LIST:\t\t\n');
});

test('default versions and names', async () => {
  const want: Record<string, [string, string]> = {
    alpine: ['alpine', '3.22'], 'cbl-mariner': ['cbl-mariner', '3.0'], centos: ['centos', 'stream9'],
    debian: ['debian', 'bookworm'], fedora: ['fedora', '42'],
  };
  for (const d of SEVEN.filter((x) => x !== 'ubuntu' && x !== 'devkit')) {
    const c = await loadDistro(d, 'x86_64');
    assert.equal([c.name, c.osVersion], want[d], d);
  }
  // Upstream's Ubuntu has no default release: OS_VERSION is required (kata-deploy pins resolute).
  const ubuntu = await loadDistro('ubuntu', 'x86_64');
  assert.equal([ubuntu.name, ubuntu.osVersion, ubuntu.osVersionExample], ['ubuntu', undefined, 'resolute']);
  assert.is((await loadDistro('cbl-mariner', 'x86_64')).libc, 'gnu');
});

test('package lists: AGENT_INIT=yes|no and SECCOMP=yes as upstream', async () => {
  const of = async (d: string, i: Partial<PackageInputs> = {}) =>
    (await loadDistro(d, 'x86_64')).packages({ agentInit: 'no', seccomp: 'no', arch: 'x86_64', ...i });
  const table: [string, Partial<PackageInputs>, string[]][] = [
    ['fedora', {}, ['iptables', 'chrony', 'systemd']],
    ['fedora', { agentInit: 'yes', seccomp: 'yes' }, ['iptables', 'chrony', 'libseccomp']],
    ['centos', {}, ['chrony', 'iptables', 'systemd']],
    ['centos', { agentInit: 'yes' }, ['chrony', 'iptables']],
    ['centos', { seccomp: 'yes' }, ['chrony', 'iptables', 'systemd', 'libseccomp']],
    ['cbl-mariner', {}, ['kata-packages-uvm', 'e2fsprogs', 'systemd']],
    ['cbl-mariner', { agentInit: 'yes', seccomp: 'yes' }, ['kata-packages-uvm', 'e2fsprogs', 'libseccomp']],
    ['debian', {}, ['chrony', 'iptables', 'dbus', 'init', 'cryptsetup-bin', 'e2fsprogs', 'kmod']],
    ['debian', { seccomp: 'yes', agentInit: 'yes' }, ['chrony', 'iptables', 'dbus', 'cryptsetup-bin', 'e2fsprogs', 'libseccomp2', 'kmod']],
    ['ubuntu', {}, ['chrony', 'iptables', 'dbus', 'init', 'cryptsetup-bin', 'e2fsprogs']],
    ['ubuntu', { agentInit: 'yes', seccomp: 'yes' }, ['chrony', 'iptables', 'dbus', 'cryptsetup-bin', 'e2fsprogs', 'libseccomp2']],
    ['ubuntu', { arch: 's390x' }, ['chrony', 'iptables', 'dbus', 'init', 'cryptsetup-bin', 'e2fsprogs', 'libcurl4', 'libnghttp2-14']],
    ['alpine', {}, ['alpine-base', 'bash', 'iptables', 'ip6tables']],
    ['alpine', { agentInit: 'yes', seccomp: 'yes' }, ['alpine-base', 'bash', 'iptables', 'ip6tables', 'libseccomp']],
  ];
  for (const [d, inputs, pkgs] of table) assert.equal(await of(d, inputs), pkgs, `${d} ${JSON.stringify(inputs)}`);
});

test('architecture names: Debian, dnf --forcearch, apk --arch', () => {
  assert.equal(['x86_64', 'aarch64', 'ppc64le', 's390x'].map(debianArch), ['amd64', 'arm64', 'ppc64el', 's390x']);
  const dnf = dnfInstallArgs({ root: '/r', osVersion: '9', packages: ['a'], extraPackages: [], forceArch: 'ppc64le' });
  assert.equal(dnf, ['-y', '--installroot=/r', '--noplugins', '--releasever=9', '--forcearch=ppc64le', 'install', 'a']);
  const apk = apkAddArgs({ repository: 'file:///m/v3.22/main', root: '/r', arch: 'aarch64', packages: ['alpine-base'], extraPackages: ['vim'], allowUntrusted: false });
  assert.equal(apk, ['-X', 'file:///m/v3.22/main', '-U', '--root', '/r', '--arch', 'aarch64', '--initdb', 'add', 'alpine-base', 'vim']);
});

test("alpine mirror: REPO_URL/v<version>/main, or the base of the host's repositories file", () => {
  assert.is(mainRepository('file:///m/alpine/', '3.22'), 'file:///m/alpine/v3.22/main');
  assert.is(mainRepository('file:///m/alpine', 'edge'), 'file:///m/alpine/edge/main');
  assert.is(mainRepository('file:///m/alpine', 'latest-stable'), 'file:///m/alpine/latest-stable/main');
  const repos = '# local\n@testing file:///m/alpine/edge/testing\nfile:///srv/alpine/v3.22/main\nfile:///srv/alpine/v3.22/community\n';
  assert.is(mirrorFromRepositories(repos), 'file:///srv/alpine');
  assert.is(mirrorFromRepositories('file:///srv/alpine/edge/main/\n'), 'file:///srv/alpine');
  assert.is(mirrorFromRepositories('file:///srv/alpine/v3.22/community\n'), undefined);
});

test("Dockerfile.in of every distro: base image of the distro's version, nodejs for the stage, no placeholder left", async () => {
  const base: Record<string, string> = {
    alpine: '${IMAGE_REGISTRY}/alpine:3.22', 'cbl-mariner': '${IMAGE_REGISTRY}/azurelinux/base/core:3.0', centos: '${IMAGE_REGISTRY}/centos/centos:stream9',
    debian: '${IMAGE_REGISTRY}/debian:bookworm', devkit: '${IMAGE_REGISTRY}/ubuntu:resolute', fedora: '${IMAGE_REGISTRY}/fedora:42', ubuntu: '${IMAGE_REGISTRY}/ubuntu:resolute',
  };
  for (const d of SEVEN) {
    const template = readFileSync(join(distrosDir, d, 'Dockerfile.in'), 'utf8');
    const config = await loadDistro(d, 'x86_64');
    const text = generateDockerfileText(template, { osVersion: config.osVersion ?? config.osVersionExample!, httpProxy: '' });
    assert.ok(text.includes(`FROM ${base[d]}\n`), d);
    assert.match(text, /^\s+nodejs( \\)?$/m, `${d} installs its nodejs`);
    assert.not.match(text, /@[A-Z_]+@/);
    // Every distro names its registry, upstream's (Azure Linux: Microsoft's, CentOS: quay.io).
    assert.not.ok(needsImageRegistry(template), d);
    const registry = { 'cbl-mariner': 'mcr.microsoft.com', centos: 'quay.io' }[d as string] ?? 'library';
    assert.match(template, new RegExp(`^ARG IMAGE_REGISTRY=${registry.replace(/\./g, '\\.')}$`, 'm'), d);
  }
  assert.ok(needsImageRegistry('ARG IMAGE_REGISTRY\nFROM ${IMAGE_REGISTRY}/x:1\n'), 'a template without a default still needs one');
  const alpine = readFileSync(join(distrosDir, 'alpine', 'Dockerfile.in'), 'utf8');
  assert.match(alpine, /apk-tools-static/);
  assert.match(alpine, /^\s+bash \\$/m, 'the stage runs its commands with bash');
  assert.match(readFileSync(join(distrosDir, 'ubuntu', 'Dockerfile.in'), 'utf8'), /mmdebstrap/);
});

test.run();
