// tier: unit
// Pure logic of the rootfs builder: settings, distro configs, dnf and
// bootstrap command lines, Dockerfile, summary, chrony edits, path safety.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseVersions, versionAt } from '../../lib/rootfs/versions.ts';
import { agentServiceUnit } from '../../lib/rootfs/agent.ts';
import { editChronyConf, editChronyUnit } from '../../lib/rootfs/chrony.ts';
import { resolveSettings } from '../../lib/core/cli.ts';
import { bootstrapArgs } from '../../lib/rootfs/debootstrap.ts';
import { listDistros, loadDistro } from '../../lib/rootfs/distro.ts';
import type { DistroConfig, RootfsContext } from '../../lib/rootfs/types.ts';
import { initLayerOf } from '../../lib/rootfs/init-layer.ts';
import { dnfConfigText, dnfInstallArgs } from '../../lib/rootfs/dnf.ts';
import { dockerfileTemplate, generateDockerfileText } from '../../lib/container/dockerfile.ts';
import { BuildError } from '../../lib/core/log.ts';
import { pathInRoot, unsafeRootfsReason } from '../../lib/core/safe-paths.ts';
import { rootfsSettings } from '../../lib/rootfs/settings.ts';
import { formatCreationTime, summaryYaml } from '../../lib/rootfs/summary.ts';
import { buildDistro, contextFor, hostDistroId, parseArgs } from '../../rootfs.ts';
import { isBuildError } from '../helpers/errors.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-unit-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const settingsOf = (argv: string[], env: NodeJS.ProcessEnv = {}) => resolveSettings(rootfsSettings, env, parseArgs(argv));
async function rejects(fn: () => Promise<unknown>, check: (e: Error) => boolean): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.ok(check(e as Error), (e as Error).message);
    return;
  }
  assert.unreachable('expected a rejection');
}

test('options beat variables; every option letter of rootfs.ts', () => {
  const s = settingsOf(['-a', 'v9', '-d', '-o', '1.2-abc', '-r', '/x/r', 'debian'], { AGENT_VERSION: 'v1', ROOTFS_DIR: '/y' });
  assert.is(s.agentVersion, 'v9');
  assert.is(s.deleteUnits, true);
  assert.is(s.osbuilderVersion, '1.2-abc');
  assert.is(s.rootfsDir, '/x/r');
  assert.is(settingsOf([], { ROOTFS_DIR: '/y' }).rootfsDir, '/y');
  assert.is(settingsOf([], { ROOTFS_DIR: '' }).rootfsDir, '', 'an empty ROOTFS_DIR counts as unset');
  assert.is(settingsOf(['-t', 'fedora']).testConfig, 'fedora');
  assert.equal(parseArgs(['-l'])._, []);
  assert.equal(parseArgs(['-r', '/r', 'fedora'])._, ['fedora']);
});

test('defaults and parsed variables', () => {
  const s = settingsOf([]);
  assert.is(s.agentBin, 'kata-agent');
  assert.is(s.agentInit, 'no');
  assert.is(s.seccomp, 'yes', 'SECCOMP defaults to yes, as upstream');
  assert.is(s.dockerRuntime, 'runc');
  assert.is(s.osbuilderVersion, 'unknown');
  assert.is(s.sourceDateEpoch, undefined);
  const t = settingsOf([], { USE_DOCKER: '1', GRACEFUL_EXIT: 'yes', SOURCE_DATE_EPOCH: '42', DISTRO_REPO: 'true' });
  assert.ok(t.useDocker && t.gracefulExit && t.distroRepo);
  assert.is(t.sourceDateEpoch, 42);
});

test('bad options and values', () => {
  assert.throws(() => parseArgs(['-x']), isBuildError(/unknown option -x/));
  assert.throws(() => parseArgs(['debian', 'fedora']), isBuildError(/too many arguments/));
  assert.throws(() => settingsOf(['-r', '']), isBuildError(/-r is empty/));
  assert.throws(() => settingsOf([], { AGENT_INIT: 'maybe' }), isBuildError(/AGENT_INIT=maybe/));
  assert.throws(() => settingsOf([], { SECCOMP: 'on' }), isBuildError(/SECCOMP=on/));
  assert.throws(() => settingsOf([], { SOURCE_DATE_EPOCH: 'now' }), isBuildError(/SOURCE_DATE_EPOCH=now/));
});

test('distro configs: listed, loaded, packages as a function of the settings', async () => {
  assert.ok(listDistros().includes('debian') && listDistros().includes('fedora'));
  const fedora = await loadDistro('fedora', 'x86_64');
  assert.equal(fedora.packages({ agentInit: 'no', seccomp: 'no', arch: 'x86_64' }), ['iptables', 'chrony', 'systemd']);
  assert.equal(fedora.packages({ agentInit: 'yes', seccomp: 'yes', arch: 'x86_64' }), ['iptables', 'chrony', 'libseccomp']);
  const debian = await loadDistro('debian', 'x86_64');
  assert.equal(debian.packages({ agentInit: 'no', seccomp: 'no', arch: 'x86_64' }), ['chrony', 'iptables', 'dbus', 'init', 'cryptsetup-bin', 'e2fsprogs', 'kmod']);
  assert.is(debian.osVersion, 'bookworm');
  // The default settings give a guest with libseccomp2 (SECCOMP=yes, as upstream).
  assert.ok(contextFor(settingsOf([]), 'debian', debian, '/r', {}).packages.includes('libseccomp2'));
  assert.not.ok(contextFor(settingsOf([], { SECCOMP: 'no' }), 'debian', debian, '/r', {}).packages.includes('libseccomp2'));
  await rejects(() => loadDistro('nosuch', 'x86_64'), isBuildError(/unknown distro "nosuch": use one of .*debian, devkit, fedora/));
  await rejects(() => loadDistro('../debian', 'x86_64'), isBuildError(/unknown distro/));
});

test('a distro folder is data plus an optional builder; per-arch overrides apply', async () => {
  const dir = join(scratch, 'distros');
  mkdirSync(join(dir, 'toy'), { recursive: true });
  writeFileSync(join(dir, 'toy/config.ts'), `export default {
  name: 'toy', osVersion: '1', packages: () => ['a'], initProcess: 'systemd',
  chrony: { conf: 'c', unit: 'u' }, repoUrl: 'file:///generic',
  archOverrides: { s390x: { osVersion: '2', repoUrl: 'file:///s390x' } },
};\n`);
  mkdirSync(join(dir, 'not-a-distro'));
  assert.equal(listDistros(dir), ['toy']);
  assert.is((await loadDistro('toy', 'x86_64', dir)).osVersion, '1');
  const s390x = await loadDistro('toy', 's390x', dir);
  assert.is(s390x.osVersion, '2');
  assert.is(s390x.repoUrl, 'file:///s390x');
});

test('context: OS_VERSION and REPO_URL override the distro, LIBC forced to gnu on s390x, EXTRA_PKGS split', async () => {
  const debian = await loadDistro('debian', 'x86_64');
  const ctx = contextFor(settingsOf([], { OS_VERSION: 'trixie', REPO_URL: 'file:///m', EXTRA_PKGS: 'a  b,c', SECCOMP: 'yes' }), 'debian', debian, '/r', {});
  assert.is(ctx.osVersion, 'trixie');
  assert.is(ctx.repoUrl, 'file:///m');
  assert.equal(ctx.extraPackages, ['a', 'b', 'c']);
  assert.ok(ctx.packages.includes('libseccomp2'));
  assert.is(ctx.libc, 'musl');
  assert.is(ctx.agentDest, '/r/usr/bin/kata-agent');
  assert.is(ctx.initPath, '/r/sbin/init');
  assert.is(contextFor(settingsOf([], { ARCH: 's390x', LIBC: 'musl' }), 'debian', debian, '/r', {}).libc, 'gnu');
  assert.is(contextFor(settingsOf([]), 'debian', debian, '/r', { DEBIAN_BOOTSTRAP: 'debootstrap' }).distroSettings.bootstrap, 'debootstrap');
});

test('host distro from os-release', () => {
  const f = join(scratch, 'os-release');
  writeFileSync(f, 'NAME="Debian GNU/Linux"\nID=debian\n');
  assert.is(hostDistroId(f), 'debian');
  writeFileSync(f, 'ID="opensuse-leap"\n');
  assert.is(hostDistroId(f), 'suse');
});

test('dnf config text and command line', () => {
  const base = { osName: 'fedora', osVersion: '42', cacheDir: '/var/cache/dnf', logFile: '/var/log/dnf.log', reposDir: '/tmp/x/repos.d' };
  assert.is(
    dnfConfigText({ ...base, baseUrl: 'file:///repo' }),
    '[main]\ncachedir=/var/cache/dnf\nlogfile=/var/log/dnf.log\nkeepcache=0\ndebuglevel=2\nexactarch=1\nobsoletes=1\nplugins=0\n' +
      'installonly_limit=3\nreposdir=/tmp/x/repos.d\nretries=5\n\n[base]\nname=fedora-42 base\nbaseurl=file:///repo\nenabled=1\ngpgcheck=0\n',
  );
  const ml = dnfConfigText({ ...base, metalink: 'https://m/metalink?repo=fedora-42&arch=$basearch', gpgKeyFile: '/k/KEY', repoName: 'os' });
  assert.match(ml, /^name=fedora-42 os$/m);
  assert.match(ml, /^metalink=https:\/\/m\/metalink\?repo=fedora-42&arch=\$basearch$/m);
  assert.match(ml, /^gpgcheck=1\ngpgkey=file:\/\/\/k\/KEY$/m);
  assert.match(dnfConfigText({ ...base, mirrorList: 'https://m/list' }), /^mirrorlist=https:\/\/m\/list$/m);
  assert.equal(dnfInstallArgs({ root: '/r', config: '/c.conf', osVersion: '42', packages: ['a'], extraPackages: ['x'] }),
    ['-y', '--installroot=/r', '--noplugins', '--config=/c.conf', '--releasever=42', 'install', 'x', 'a']);
  assert.equal(dnfInstallArgs({ root: '/r', osVersion: '42', packages: ['a'], extraPackages: [] }),
    ['-y', '--installroot=/r', '--noplugins', '--releasever=42', 'install', 'a']);
  // dnf5 with the host's (the build container's) repositories.
  assert.equal(dnfInstallArgs({ root: '/r', osVersion: '42', packages: ['a'], extraPackages: [], hostConfig: true }),
    ['-y', '--installroot=/r', '--noplugins', '--use-host-config', '--releasever=42', 'install', 'a']);
});

test('bootstrap command lines', () => {
  const a = { suite: 'bookworm', target: '/r', arch: 'amd64', packages: ['systemd', 'init'], extraPackages: ['vim'], mirror: '' };
  assert.equal(bootstrapArgs({ ...a, tool: 'debootstrap' }), ['--variant=minbase', '--arch=amd64', '--components=main', '--include=systemd,init', 'bookworm', '/r']);
  const mm = bootstrapArgs({ ...a, tool: 'mmdebstrap', mirror: 'file:///mirror', mergedUsrHookDir: '/hooks/maybe-merged-usr' });
  assert.ok(mm.includes('--hook-dir=/hooks/maybe-merged-usr'));
  assert.ok(mm.includes('--mode=root') && mm.includes('--variant=required') && mm.includes('--include=systemd,init,vim'));
  assert.ok(mm.includes('--dpkgopt=force-unsafe-io'));
  assert.equal(mm.slice(-3), ['bookworm', '/r', 'file:///mirror']);
  // Over a finished tree: mmdebstrap's custom variant with the packages, the tree copied in (dev/ aside) by a
  // setup hook before the package cache's, no merged-/usr hook (the tree is merged).
  const over = bootstrapArgs({ ...a, tool: 'mmdebstrap', packages: ['init'], extraPackages: [], mergedUsrHookDir: '/hooks/maybe-merged-usr', packageCache: '/pc', over: "/l/it's" });
  assert.ok(over.includes('--variant=custom') && !over.includes('--variant=required') && over.includes('--include=init'));
  assert.not.ok(over.some((x) => x.startsWith('--hook-dir')), over.join(' '));
  const copyIn = over.indexOf(`--setup-hook=find '/l/it'\\''s' -mindepth 1 -maxdepth 1 ! -name dev -exec cp -a -t "$1" {} +`);
  assert.ok(copyIn > 0 && copyIn < over.findIndex((x) => x.startsWith('--setup-hook=find /pc')), over.join('\n'));
  assert.throws(() => bootstrapArgs({ ...a, tool: 'debootstrap', over: '/l' }), /only mmdebstrap/);
});

test('the AGENT_INIT=yes layer of an AGENT_INIT=no build: what AGENT_INIT=no adds, only where the lists nest and the builder can', async () => {
  const debian = await loadDistro('debian', 'x86_64');
  const ctxOf = (distro: DistroConfig | undefined, agentInit: 'yes' | 'no') => {
    const settings = settingsOf([], { AGENT_INIT: agentInit, SECCOMP: 'yes' });
    return { settings, arch: 'x86_64', distro, packages: distro ? distro.packages({ agentInit, seccomp: 'yes', arch: 'x86_64' }) : [] } as unknown as RootfsContext;
  };
  const layer = initLayerOf(ctxOf(debian, 'no'));
  assert.equal(layer?.adds, ['init']);
  assert.equal(layer?.packages, debian.packages({ agentInit: 'yes', seccomp: 'yes', arch: 'x86_64' }));
  assert.is(initLayerOf(ctxOf(debian, 'yes')), undefined, 'AGENT_INIT=yes is the layer itself');
  assert.is(initLayerOf(ctxOf(await loadDistro('fedora', 'x86_64'), 'no')), undefined, 'dnf builds each tree whole');
  assert.is(initLayerOf(ctxOf(await loadDistro('devkit', 'x86_64'), 'no')), undefined, 'one list whatever AGENT_INIT says');
  const swapped: DistroConfig = { ...debian, packages: ({ agentInit }) => (agentInit === 'yes' ? ['busybox'] : ['init']) };
  assert.is(initLayerOf(ctxOf(swapped, 'no')), undefined, 'the AGENT_INIT=yes list is not part of the other');
});

test('Dockerfile generation: placeholders, proxy, arch-specific template wins', () => {
  const tpl = 'ARG IMAGE_REGISTRY=library\nFROM ${IMAGE_REGISTRY}/fedora:@OS_VERSION@\n@SET_PROXY@\nRUN true\n';
  const out = generateDockerfileText(tpl, { osVersion: '42', httpProxy: 'http://proxy:3128' });
  assert.is(out, "ARG IMAGE_REGISTRY=library\nFROM ${IMAGE_REGISTRY}/fedora:42\nRUN sed -i '$ a proxy=http://proxy:3128' /etc/dnf/dnf.conf /etc/yum.conf; true\nRUN true\n");
  // Upstream's toolchain placeholders: the agent is never built in the container.
  assert.throws(() => generateDockerfileText(`${tpl}@INSTALL_RUST@\n`, { osVersion: '42', httpProxy: '' }), isBuildError(/^@INSTALL_RUST@ in Dockerfile.in: .*never builds the agent.*remove the line$/));
  assert.not.match(generateDockerfileText(tpl, { osVersion: '42', httpProxy: '' }), /proxy/);
  assert.throws(() => generateDockerfileText('@NOPE@', { osVersion: '1', httpProxy: '' }), isBuildError(/unknown placeholder @NOPE@/));
  const dir = join(scratch, 'df');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile.in'), 'generic');
  assert.is(dockerfileTemplate(dir, 'x86_64'), join(dir, 'Dockerfile.in'));
  writeFileSync(join(dir, 'Dockerfile-aarch64.in'), 'arm');
  assert.is(dockerfileTemplate(dir, 'aarch64'), join(dir, 'Dockerfile-aarch64.in'));
  for (const d of listDistros()) {
    const text = readFileSync(dockerfileTemplate(join('rootfs', d), 'x86_64'), 'utf8');
    assert.match(generateDockerfileText(text, { osVersion: 'V', httpProxy: '' }), /^FROM \$\{IMAGE_REGISTRY\}\/[\w/-]+:V$/m);
  }
});

test('summary file: exact text, sorted unique package lists, upstream time format', () => {
  assert.is(formatCreationTime(0), '1970-01-01T00:00:00.000000000+0000Z');
  assert.is(formatCreationTime(1700000000.25), '2023-11-14T22:13:20.250000000+0000Z');
  const yaml = summaryYaml({
    osbuilderVersion: '3.0-abc', creationTime: 1700000000, architecture: 'x86_64', distroName: 'debian', distroVersion: 'bookworm',
    packages: ['systemd', 'chrony', 'systemd'], extraPackages: [], agentName: 'kata-agent', agentVersion: '3.0', agentIsInit: 'no',
  });
  assert.is(yaml, `---
osbuilder:
  url: "https://github.com/kata-containers/kata-containers/tools/osbuilder"
  version: "3.0-abc"
rootfs-creation-time: "2023-11-14T22:13:20.000000000+0000Z"
description: "osbuilder rootfs"
file-format-version: "0.0.2"
architecture: "x86_64"
base-distro:
  name: "debian"
  version: "bookworm"
  packages:
    default:
      - "chrony"
      - "systemd"
    extra:
agent:
  url: "https://github.com/kata-containers/kata-containers"
  name: "kata-agent"
  version: "3.0"
  agent-is-init-daemon: "no"
`);
});

test('versions.yaml lookups (yq paths)', () => {
  const doc = parseVersions('languages:\n  rust:\n    meta:\n      newest-version: "1.80.0"\nexternals:\n  musl:\n    version: 1.2\n');
  assert.is(versionAt(doc, 'languages.rust.meta.newest-version'), '1.80.0');
  assert.is(versionAt(doc, 'externals.musl.version'), '1.2');
  assert.is(versionAt(doc, 'externals.nosuch.version'), '');
  assert.is(versionAt(doc, 'languages.rust'), '');
});

test('chrony edits', () => {
  assert.is(editChronyConf('pool p.example iburst\nserver s.example\npeer x\nkeyfile /k'),
    '# pool p.example iburst\n# server s.example\n# peer x\nkeyfile /k\nrefclock PHC /dev/ptp0 poll 3 dpoll -2 offset 0\n' +
    '# Step the system clock instead of slewing it if the adjustment is larger than\n# one second, at any time\nmakestep 1 -1\n');
  assert.is(
    editChronyUnit('[Unit]\nDescription=c\n\n[Service]\nExecStart=/usr/sbin/chronyd -F 1 -u _chrony $D\nReadWritePaths=/run /var/lib/chrony /x\nStateDirectory=chrony\n'),
    '[Unit]\nConditionPathExists=/dev/ptp0\nDescription=c\n\n[Service]\nExecStart=/usr/sbin/chronyd -F 1  $D\nReadWritePaths=/run -/var/lib/chrony /x\n#StateDirectory=chrony\n',
  );
});

test('rootfs dir safety', () => {
  for (const bad of ['/', '/usr', '/var/', '/var/lib', '/usr/local', '/etc/x', '/proc/1', '/tmp', '/home', '//', '/usr/..']) {
    assert.ok(unsafeRootfsReason(bad), `${bad} refused`);
  }
  for (const good of ['/var/tmp/r', '/rootfs', '/tmp/x', join(scratch, 'r'), '/home/u/r']) assert.is(unsafeRootfsReason(good), undefined, good);
  const link = join(scratch, 'to-root');
  symlinkSync('/', link);
  assert.ok(unsafeRootfsReason(link), 'a symlink to / is refused');
  const root = join(scratch, 'tree');
  mkdirSync(join(root, 'etc'), { recursive: true });
  symlinkSync('/etc/hostname', join(root, 'etc/escape'));
  // Resolved as the guest sees it: the absolute link leads into the tree, not onto the host.
  assert.is(pathInRoot(root, 'etc/escape'), join(root, 'etc/hostname'));
  assert.is(pathInRoot(root, 'etc/new'), join(root, 'etc/new'));
});

test('agent unit for a bare binary: console output, no pruned dependencies', () => {
  const unit = agentServiceUnit('/usr/bin/kata-agent');
  assert.match(unit, /^Type=simple$/m);
  assert.match(unit, /^StandardOutput=tty$/m);
  assert.not.match(unit, /journald|udev|tmpfiles|timesyncd/);
});

test('GRACEFUL_EXIT with BUILD_CAN_FAIL: failure exits cleanly, leaves <distro>_fail and no tree', async () => {
  const failing: DistroConfig = {
    name: 'flaky', osVersion: '1', packages: () => [], initProcess: 'systemd', chrony: { conf: 'c', unit: 'u' }, buildCanFail: true,
    buildRootfs: async (ctx) => {
      writeFileSync(join(ctx.workDir, 'half'), '');
      throw new BuildError('mirror unreachable');
    },
  };
  const parent = join(scratch, 'graceful');
  mkdirSync(parent, { recursive: true });
  const rootfs = join(parent, 'flaky_rootfs');
  await buildDistro(contextFor(settingsOf([], { GRACEFUL_EXIT: '1' }), 'flaky', failing, rootfs, {}), undefined);
  assert.ok(existsSync(join(parent, 'flaky_fail')));
  assert.not.ok(existsSync(rootfs));
  assert.equal(readdirNames(parent), ['flaky_fail']);
  await rejects(() => buildDistro(contextFor(settingsOf([]), 'flaky', failing, rootfs, {}), undefined), isBuildError(/mirror unreachable/));
  await rejects(
    () => buildDistro(contextFor(settingsOf([], { GRACEFUL_EXIT: '1' }), 'flaky', { ...failing, buildCanFail: false }, rootfs, {}), undefined),
    isBuildError(/mirror unreachable/),
  );
});

function readdirNames(dir: string): string[] {
  return readdirSync(dir).sort();
}

test.run();
