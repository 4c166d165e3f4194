// tier: unit
// Plan mode per distro: the exact commands a build would run (package
// lists, mirror, architecture names), pinned, for the distros whose mirrors
// this machine cannot reach too. A plan never creates ROOTFS_DIR.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machine } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HOST_CA_BUNDLES, UNNEEDED_SHARE_DIRS } from '../../lib/rootfs/debian-tree.ts';
import { DNF_UNNEEDED_SHARE_DIRS } from '../../lib/rootfs/dnf.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { PLAN_DNF_DIR, PLAN_ROOT, plan, writtenText, type Plan } from '../helpers/plan-run.ts';

const R = PLAN_ROOT;
const CONF = (distro: string) => `${PLAN_DNF_DIR}/kata-${distro}-dnf.conf`;
const dnfCleanup = `rm -rf --one-file-system ${DNF_UNNEEDED_SHARE_DIRS.map((d) => `${R}/usr/share/${d}`).join(' ')}`;
const debCleanup = `rm -rf --one-file-system ${UNNEEDED_SHARE_DIRS.map((d) => `${R}/usr/share/${d}`).join(' ')}`;
// merged /usr through mmdebstrap's own hook (no usrmerge package in the tree)
const mergedUsrHook = '--hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr';
const MMDEBSTRAP = `mmdebstrap --mode=root $'--aptopt=APT::Install-Recommends "false"' --variant=required`;
/** Upstream's Ubuntu list with SECCOMP (default yes) and AGENT_INIT=no; Debian adds kmod. */
const UBUNTU_LIST = 'chrony,iptables,dbus,init,cryptsetup-bin,e2fsprogs,libseccomp2';
/** AGENT_INIT=no with mmdebstrap: the AGENT_INIT=yes tree (no init) is bootstrapped at LAYER first (lib/rootfs/init-layer.ts)… */
const LAYER_LIST = UBUNTU_LIST.replace('init,', '');
const LAYER = `${R}-layer`;
const layerCleanup = debCleanup.replaceAll(`${R}/`, `${LAYER}/`);
/** …then init is installed over a copy of it, into ROOTFS_DIR; `tail`: the suite, the target and the mirror. */
const overLayer = (arch: string, tail: string, components = '--components=main', cacheArgs = '') =>
  `mmdebstrap --mode=root $'--aptopt=APT::Install-Recommends "false"' --variant=custom --arch=${arch} ${components} --include=init --dpkgopt=force-unsafe-io ` +
  `$'--setup-hook=find \\'${LAYER}\\' -mindepth 1 -maxdepth 1 ! -name dev -exec cp -a -t "$1" {} +'${cacheArgs} ${tail}`;
const hostCaBundle = HOST_CA_BUNDLES.find((f) => existsSync(f));

/** The finishing steps of upstream's Ubuntu builder, as disk writes of the plan. */
function assertDebianTreeFinish(p: Plan): void {
  const want = [
    `# symlink ${R}/var/run -> /run`,
    `# symlink ${R}/dev/fd -> /proc/self/fd`,
    `# symlink ${R}/dev/stdin -> fd/0`,
    `# symlink ${R}/dev/stdout -> fd/1`,
    `# symlink ${R}/dev/stderr -> fd/2`,
    `# write ${R}/dev/.osbuilder-device-nodes`, // the packers make the nodes (no mknod: the same for a rootless build)
  ];
  if (hostCaBundle) want.push(`# copy ${hostCaBundle} ${R}/etc/ssl/certs/ca-certificates.crt`, `# symlink ${R}/usr/lib/ssl/cert.pem -> ../../../etc/ssl/certs/ca-certificates.crt`);
  for (const line of want) assert.ok(p.fileLines.includes(line), `${line}\n${p.fileLines.join('\n')}`);
}
/** dnf's --forcearch appears only when ARCH names another architecture than this host's. */
const forceArch = (arch: string) => (arch === machine() ? '' : ` --forcearch=${arch}`);

function ok(p: Plan): Plan {
  assert.is(p.exitCode, 0, p.stderr);
  assert.not.ok(existsSync(PLAN_ROOT), 'a plan creates no ROOTFS_DIR');
  assert.not.ok(existsSync(PLAN_DNF_DIR), 'a plan creates no dnf config dir');
  return p;
}

test('fedora: the whole build in order — dnf config, dnf, cleanup, then the rootfs setup', async () => {
  const p = ok(await plan('fedora', { REPO_URL: 'file:///srv/repo/fedora', ARCH: 'x86_64' }));
  assert.equal(p.commands, [
    `dnf -y --installroot=${R} --noplugins --config=${CONF('fedora')} --releasever=42${forceArch('x86_64')} install iptables chrony systemd libseccomp`,
    dnfCleanup,
    `rm -rf --one-file-system ${R}/var/cache ${R}/var/lib ${R}/var/log ${R}/var/tmp`,
    `strip ${R}/usr/bin/kata-agent`,
    `chmod g+rx,o+x ${R}`,
  ]);
  const conf = writtenText(p, CONF('fedora'))!;
  assert.match(conf, /^\[base\]\nname=fedora-42 base\nbaseurl=file:\/\/\/srv\/repo\/fedora\nenabled=1\ngpgcheck=0$/m);
  assert.match(conf, new RegExp(`^reposdir=${PLAN_DNF_DIR}/repos.d$`, 'm'));
  for (const f of ['etc/systemd/system/tmp.mount', 'usr/lib/systemd/system/kata-agent.service', 'var/lib/osbuilder/osbuilder.yaml']) {
    assert.ok(p.fileLines.includes(`# write ${R}/${f}`), f);
  }
  assert.ok(p.fileLines.includes(`# copy /bin/true ${R}/usr/bin/kata-agent`));
  assert.ok(p.fileLines.includes(`# symlink ${R}/var/tmp -> ../tmp`));
  assert.ok(p.fileLines.includes(`# edit ${R}/etc/chrony.conf`));
  assert.is(p.fileLines.at(-1), `# remove ${PLAN_DNF_DIR}`);
});

test('fedora: AGENT_INIT=yes drops systemd, SECCOMP=yes adds libseccomp, EXTRA_PKGS first; aarch64/ppc64le/s390x', async () => {
  const p = ok(await plan('fedora', { REPO_URL: 'file:///srv/repo/fedora', AGENT_INIT: 'yes', SECCOMP: 'yes', EXTRA_PKGS: 'vim-minimal', ARCH: 'x86_64' }));
  assert.is(p.distroCommands[0], `dnf -y --installroot=${R} --noplugins --config=${CONF('fedora')} --releasever=42${forceArch('x86_64')} install vim-minimal iptables chrony libseccomp`);
  assert.ok(p.fileLines.includes(`# rename ${R}/usr/bin/kata-agent ${R}/sbin/init`), 'agent becomes init');
  for (const arch of ['aarch64', 'ppc64le', 's390x']) {
    const q = ok(await plan('fedora', { REPO_URL: 'file:///srv/repo/fedora', ARCH: arch, OS_VERSION: '41' }));
    assert.is(q.distroCommands[0], `dnf -y --installroot=${R} --noplugins --config=${CONF('fedora')} --releasever=41${forceArch(arch)} install iptables chrony systemd libseccomp`);
  }
});

test('centos: stream9 is dnf release 9; REPO_URL or the host repositories (DISTRO_REPO)', async () => {
  const p = ok(await plan('centos', { REPO_URL: 'file:///srv/repo/centos', ARCH: 'x86_64' }));
  assert.equal(p.distroCommands, [
    `dnf -y --installroot=${R} --noplugins --config=${CONF('centos')} --releasever=9${forceArch('x86_64')} install chrony iptables systemd libseccomp`,
    dnfCleanup,
  ]);
  assert.match(writtenText(p, CONF('centos'))!, /^name=centos-stream9 base\nbaseurl=file:\/\/\/srv\/repo\/centos$/m);
  const host = ok(await plan('centos', { DISTRO_REPO: '1', AGENT_INIT: 'yes', SECCOMP: 'yes', ARCH: 'ppc64le' }));
  assert.is(host.distroCommands[0], `dnf -y --installroot=${R} --noplugins --releasever=9${forceArch('ppc64le')} install chrony iptables libseccomp`);
  assert.not.ok(host.fileLines.some((l) => l.includes('dnf.conf')), 'no generated config with the host repositories');
});

test('cbl-mariner: tdnf first, gnu libc, kata-packages-uvm; PKG_MANAGER overrides', async () => {
  const p = ok(await plan('cbl-mariner', { REPO_URL: 'file:///srv/repo/mariner', ARCH: 'x86_64' }));
  assert.equal(p.distroCommands, [
    `tdnf -y --installroot=${R} --noplugins --config=${CONF('cbl-mariner')} --releasever=3.0${forceArch('x86_64')} install kata-packages-uvm e2fsprogs systemd libseccomp`,
    dnfCleanup,
  ]);
  assert.not.match(p.stderr, /Forcing LIBC/);
  const q = ok(await plan('cbl-mariner', { REPO_URL: 'file:///srv/repo/mariner', PKG_MANAGER: 'dnf', AGENT_INIT: 'yes', SECCOMP: 'yes', ARCH: 'aarch64' }));
  assert.is(q.distroCommands[0], `dnf -y --installroot=${R} --noplugins --config=${CONF('cbl-mariner')} --releasever=3.0${forceArch('aarch64')} install kata-packages-uvm e2fsprogs libseccomp`);
});

test("debian: mmdebstrap (default, Debian's own mirror) and debootstrap with the Debian architecture names; Ubuntu's list plus kmod", async () => {
  const p = ok(await plan('debian', { ARCH: 'x86_64' }));
  assert.equal(p.distroCommands, [
    `${MMDEBSTRAP} --arch=amd64 --components=main $'--include=${LAYER_LIST},kmod' --dpkgopt=force-unsafe-io ${mergedUsrHook} bookworm ${LAYER}`,
    layerCleanup,
    overLayer('amd64', `bookworm ${R}`),
    debCleanup,
  ]);
  assert.not.ok(existsSync(LAYER), 'a plan creates no layer dir');
  assertDebianTreeFinish(p);
  // AGENT_INIT=yes is the layer's build itself, one bootstrap.
  const yes = ok(await plan('debian', { ARCH: 'x86_64', AGENT_INIT: 'yes' }));
  assert.equal(yes.distroCommands, [`${MMDEBSTRAP} --arch=amd64 --components=main $'--include=${LAYER_LIST},kmod' --dpkgopt=force-unsafe-io ${mergedUsrHook} bookworm ${R}`, debCleanup]);
  const expected: Record<string, string> = { ppc64le: 'ppc64el' };
  for (const [arch, deb] of Object.entries(expected)) {
    const q = ok(await plan('debian', { ARCH: arch, DEBIAN_BOOTSTRAP: 'debootstrap', SECCOMP: 'no', AGENT_INIT: 'yes', EXTRA_PKGS: 'vim', REPO_URL: 'file:///srv/mirror/debian' }));
    assert.equal(q.distroCommands.slice(0, 2), [
      `debootstrap --variant=minbase --arch=${deb} --components=main $'--include=chrony,iptables,dbus,cryptsetup-bin,e2fsprogs,kmod' bookworm ${R} file:///srv/mirror/debian`,
      `chroot ${R} apt-get install -y --no-install-recommends vim`,
    ]);
  }
});

test('debian: PACKAGE_CACHE_DIR gives mmdebstrap its cache hooks and debootstrap --cache-dir; the cache dir is the only write outside ROOTFS_DIR', async () => {
  const cache = '/var/cache/pkgs/debian-bookworm-amd64-mmdebstrap';
  const p = ok(await plan('debian', { ARCH: 'x86_64', PACKAGE_CACHE_DIR: '/var/cache/pkgs' }));
  const cacheArgs = `--skip=download/empty --skip=essential/unlink $'--setup-hook=mkdir -p "$1"/var/cache/apt/archives' $'--setup-hook=find ${cache} -maxdepth 1 -type f -name \\'*.deb\\' -exec cp -t "$1"/var/cache/apt/archives/ {} +' ` +
    `$'--customize-hook=find "$1"/var/cache/apt/archives -maxdepth 1 -name \\'*.deb\\' -exec cp -n -t ${cache} {} +'`;
  assert.is(p.distroCommands[0], `${MMDEBSTRAP} --arch=amd64 --components=main $'--include=${LAYER_LIST},kmod' --dpkgopt=force-unsafe-io ${cacheArgs} ${mergedUsrHook} bookworm ${LAYER}`);
  // The packages init brings come from (and go to) the same cache.
  assert.is(p.distroCommands[2], overLayer('amd64', `bookworm ${R}`, '--components=main', ` ${cacheArgs}`));
  assert.ok(p.fileLines.includes(`# mkdir ${cache}`), p.fileLines.join('\n'));
  const mkdirs = p.fileLines.filter((l) => l.startsWith('# mkdir '));
  assert.equal(mkdirs, [...new Set(mkdirs)], 'each directory is planned once (a second mkdir -p is a no-op)');
  const q = ok(await plan('debian', { ARCH: 'x86_64', DEBIAN_BOOTSTRAP: 'debootstrap', PACKAGE_CACHE_DIR: '/var/cache/pkgs' }));
  assert.is(q.distroCommands[0], `debootstrap --variant=minbase --arch=amd64 --components=main $'--include=${UBUNTU_LIST},kmod' --cache-dir=/var/cache/pkgs/debian-bookworm-amd64-debootstrap bookworm ${R}`);
  const bad = await plan('debian', { ARCH: 'x86_64', PACKAGE_CACHE_DIR: 'relative/dir' });
  assert.is(bad.exitCode, 1);
  assert.match(bad.stderr, /^ERROR: PACKAGE_CACHE_DIR=relative\/dir is not an absolute path/m);
});

test("ubuntu resolute: upstream's mirrors (archive on x86_64, ports elsewhere), the release suite alone, variant required; init only without AGENT_INIT; s390x extras", async () => {
  const p = ok(await plan('ubuntu', { ARCH: 'x86_64', OS_VERSION: 'resolute' }));
  assert.equal(p.distroCommands, [
    `${MMDEBSTRAP} --arch=amd64 --components=main $'--include=${LAYER_LIST}' --dpkgopt=force-unsafe-io ${mergedUsrHook} resolute ${LAYER} http://archive.ubuntu.com/ubuntu`,
    layerCleanup,
    overLayer('amd64', `resolute ${R} http://archive.ubuntu.com/ubuntu`),
    debCleanup,
  ]);
  // An explicit mirror: mmdebstrap adds no -updates/-security suite.
  assert.not.match(p.stdout, /resolute-(updates|security)/);
  assertDebianTreeFinish(p);
  assert.ok(p.fileLines.includes(`# edit ${R}/etc/chrony/chrony.conf`));
  assert.ok(p.fileLines.includes(`# edit ${R}/lib/systemd/system/chrony.service`));
  for (const [arch, deb] of [['aarch64', 'arm64'], ['ppc64le', 'ppc64el']]) {
    const r = ok(await plan('ubuntu', { ARCH: arch!, OS_VERSION: 'resolute' }));
    assert.is(r.distroCommands[0], `${MMDEBSTRAP} --arch=${deb} --components=main $'--include=${LAYER_LIST}' --dpkgopt=force-unsafe-io ${mergedUsrHook} resolute ${LAYER} http://ports.ubuntu.com/ubuntu-ports`);
    assert.is(r.distroCommands[2], overLayer(deb!, `resolute ${R} http://ports.ubuntu.com/ubuntu-ports`));
  }
  const q = ok(await plan('ubuntu', { ARCH: 's390x', AGENT_INIT: 'yes', REPO_URL: 'file:///srv/mirror/ubuntu-ports', OS_VERSION: 'jammy' }));
  assert.is(
    q.distroCommands[0],
    `${MMDEBSTRAP} --arch=s390x --components=main $'--include=chrony,iptables,dbus,cryptsetup-bin,e2fsprogs,libseccomp2,libcurl4,libnghttp2-14' --dpkgopt=force-unsafe-io ${mergedUsrHook} jammy ${R} file:///srv/mirror/ubuntu-ports`,
  );
  assert.match(q.stderr, /Forcing LIBC=gnu because s390x/);
  const d = ok(await plan('ubuntu', { ARCH: 'aarch64', OS_VERSION: 'resolute', SECCOMP: 'no', DEBIAN_BOOTSTRAP: 'debootstrap' }));
  assert.is(d.distroCommands[0], `debootstrap --variant=minbase --arch=arm64 --components=main $'--include=chrony,iptables,dbus,init,cryptsetup-bin,e2fsprogs' resolute ${R} http://ports.ubuntu.com/ubuntu-ports`);
});

test('ubuntu: OS_VERSION unset is one ERROR naming the release kata-deploy builds, before any work; -l and -t need none', async () => {
  const p = await plan('ubuntu', { ARCH: 'x86_64' });
  assert.is(p.exitCode, 1);
  assert.equal(p.stderr.trim().split('\n'), ['ERROR: OS_VERSION is not set and ubuntu has no default release: set OS_VERSION to the ubuntu release to build, e.g. OS_VERSION=resolute as kata-deploy builds it']);
  assert.is(p.commands.length + p.fileLines.length, 0, 'nothing planned');
  const list = await runRootfs(['-l']);
  assert.is(list.exitCode, 0);
  assert.match(list.stdout, /^ubuntu$/m);
  const t = await runRootfs(['-t', 'ubuntu']);
  assert.is(t.stdout, 'INIT_PROCESS:\t\tsystemd\nARCH_EXCLUDE_LIST:\t\t\n');
});

test("ubuntu: REPO_URL_X86_64 before REPO_URL on x86_64, REPO_URL the others' (debian warns it ignores it); REPO_COMPONENTS reach both tools comma separated", async () => {
  const mirrors = { OS_VERSION: 'resolute', REPO_URL: 'file:///srv/mirror/ubuntu-ports', REPO_URL_X86_64: 'file:///srv/mirror/ubuntu', REPO_COMPONENTS: 'main  universe, restricted' };
  const include = `$'--include=${UBUNTU_LIST}'`;
  const amd64 = ok(await plan('ubuntu', { ARCH: 'x86_64', ...mirrors }));
  assert.is(
    amd64.distroCommands[0],
    `${MMDEBSTRAP} --arch=amd64 $'--components=main,universe,restricted' $'--include=${LAYER_LIST}' --dpkgopt=force-unsafe-io ${mergedUsrHook} resolute ${LAYER} file:///srv/mirror/ubuntu`,
  );
  assert.is(amd64.distroCommands[2], overLayer('amd64', `resolute ${R} file:///srv/mirror/ubuntu`, `$'--components=main,universe,restricted'`));
  const onlyRepoUrl = ok(await plan('ubuntu', { ARCH: 'x86_64', OS_VERSION: 'resolute', REPO_URL: 'file:///srv/mirror/ubuntu-private' }));
  assert.match(onlyRepoUrl.distroCommands[0]!, / resolute \S+ file:\/\/\/srv\/mirror\/ubuntu-private$/);
  const arm64 = ok(await plan('ubuntu', { ARCH: 'aarch64', DEBIAN_BOOTSTRAP: 'debootstrap', ...mirrors }));
  assert.is(arm64.distroCommands[0], `debootstrap --variant=minbase --arch=arm64 $'--components=main,universe,restricted' ${include} resolute ${R} file:///srv/mirror/ubuntu-ports`);
  // Debian has one mirror for every architecture: the setting is ignored, by name.
  const debian = ok(await plan('debian', { ARCH: 'x86_64', ...mirrors, OS_VERSION: 'bookworm' }));
  assert.match(debian.distroCommands[0]!, / bookworm \S+ file:\/\/\/srv\/mirror\/ubuntu-ports$/);
  assert.match(debian.stderr, /^WARNING: REPO_URL_X86_64 is ignored: debian has one mirror for every architecture, set REPO_URL$/m);
  const bad = await plan('ubuntu', { ARCH: 'x86_64', OS_VERSION: 'resolute', REPO_COMPONENTS: 'main;rm -rf' });
  assert.is(bad.exitCode, 1);
  assert.equal(bad.stderr.trim().split('\n'), ['ERROR: REPO_COMPONENTS=main;rm -rf is not a list of archive components: give names such as "main contrib"']);
});

test('DNF_CONF: dnf gets it as --config (no generated config; REPO_URL ignored by name); a missing file is one ERROR; debian says it ignores it', async () => {
  const dir = mkdtempSync('/tmp/osbuilder-plan-dnfconf-');
  const conf = join(dir, 'site.conf');
  writeFileSync(conf, '[main]\n');
  try {
    const p = ok(await plan('fedora', { ARCH: 'x86_64', DNF_CONF: conf, REPO_URL: 'file:///srv/repo/fedora' }));
    assert.is(p.distroCommands[0], `dnf -y --installroot=${R} --noplugins --config=${conf} --releasever=42${forceArch('x86_64')} install iptables chrony systemd libseccomp`);
    assert.not.ok(p.fileLines.some((l) => l.includes('kata-fedora-dnf.conf')), 'no generated config');
    assert.match(p.stderr, new RegExp(`^WARNING: REPO_URL and DISTRO_REPO are ignored: DNF_CONF=${conf} names the repositories$`, 'm'));
    const debian = ok(await plan('debian', { ARCH: 'x86_64', DNF_CONF: conf }));
    assert.match(debian.stderr, /^WARNING: DNF_CONF is ignored: debian is not built with dnf$/m);
    const missing = await plan('fedora', { ARCH: 'x86_64', DNF_CONF: join(dir, 'nope.conf') });
    assert.is(missing.exitCode, 1);
    assert.equal(missing.stderr.trim().split('\n'), [`ERROR: DNF_CONF=${join(dir, 'nope.conf')} is not an existing file: give a dnf config file or unset it`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('alpine: apk.static --initdb from REPO_URL/v<version>/main, apk architecture names, repositories file', async () => {
  const p = ok(await plan('alpine', { REPO_URL: 'file:///srv/mirror/alpine/', AGENT_INIT: 'yes', ARCH: 'x86_64' }));
  assert.equal(p.distroCommands, [
    `apk.static -X file:///srv/mirror/alpine/v3.22/main -U --allow-untrusted --root ${R} --arch x86_64 --initdb add alpine-base bash iptables ip6tables libseccomp`,
  ]);
  assert.is(writtenText(p, `${R}/etc/apk/repositories`), 'file:///srv/mirror/alpine/v3.22/main');
  assert.ok(p.fileLines.includes(`# rename ${R}/usr/bin/kata-agent ${R}/sbin/init`));
  for (const arch of ['s390x']) {
    const q = ok(await plan('alpine', { REPO_URL: 'file:///srv/mirror/alpine', ARCH: arch, SECCOMP: 'yes', EXTRA_PKGS: 'chrony', OS_VERSION: 'edge' }));
    assert.is(q.distroCommands[0], `apk.static -X file:///srv/mirror/alpine/edge/main -U --allow-untrusted --root ${R} --arch ${arch} --initdb add alpine-base bash iptables ip6tables libseccomp chrony`);
  }
});

test('a plan fails like the build on bad input: one ERROR line, nothing written', async () => {
  const alpine = await plan('alpine', { ARCH: 'x86_64' });
  assert.is.not(alpine.exitCode, 0);
  assert.match(alpine.stderr, /^ERROR: no Alpine mirror: set REPO_URL/m);
  const fedora = await plan('fedora', { AGENT_INIT: 'maybe' });
  assert.match(fedora.stderr, /^ERROR: AGENT_INIT=maybe is not valid/m);
  assert.is(fedora.commands.length, 0);
  assert.not.ok(existsSync(PLAN_ROOT));
});

test('container builds in plan mode print the engine commands; centos/mariner default to their own registry', async () => {
  const p = ok(await plan('ubuntu', { USE_DOCKER: '1', ARCH: 'x86_64', OS_VERSION: 'resolute' }));
  const build = p.commands.find((c) => c.startsWith('docker build '));
  assert.ok(build, p.stdout);
  assert.match(build!, / -t ubuntu-rootfs-osbuilder -f \S+\/Dockerfile \S+\/rootfs\/ubuntu$/);
  const run = p.commands.find((c) => c.startsWith('docker run '));
  assert.match(run!, /--env STAGE_PREPARE_ROOTFS=1 /);
  assert.match(run!, /--security-opt apparmor=unconfined /);
  assert.match(run!, / ubuntu-rootfs-osbuilder node \/osbuilder-stage\/rootfs-stage\.mjs ubuntu$/);
  assert.not.ok(p.commands.some((c) => c.startsWith('mmdebstrap')), 'the distro stage runs in the container');
  assert.match(p.stdout, /^#   FROM \$\{IMAGE_REGISTRY\}\/ubuntu:resolute$/m);
  // Without IMAGE_REGISTRY, the Dockerfile's default (upstream's registry); with it, the build arg overrides it.
  for (const [d, registry] of [['centos', 'quay.io'], ['cbl-mariner', 'mcr.microsoft.com']] as const) {
    const dflt = ok(await plan(d, { USE_PODMAN: '1' }));
    assert.match(dflt.stdout, new RegExp(`^#   ARG IMAGE_REGISTRY=${registry.replace(/\./g, '\\.')}$`, 'm'), d);
    assert.not.ok(dflt.commands.some((c) => c.includes('--build-arg IMAGE_REGISTRY=')), d);
  }
  const mariner = ok(await plan('cbl-mariner', { USE_PODMAN: '1', IMAGE_REGISTRY: 'localhost' }));
  assert.ok(mariner.commands.some((c) => c.startsWith('podman build ') && c.includes('--build-arg IMAGE_REGISTRY=localhost')), mariner.stdout);
});

test.run();
