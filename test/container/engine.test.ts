// Pure parts of the engine layer: engine choice, remote detection, the
// generic build/run argument builders, and scripts/engines.ts' helpers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isBuildError } from '../helpers/errors.ts';
import { rootlessEngine } from '../../lib/core/engine-choice.ts';
import { buildArgv, engineFor, remoteEndpoint, runArgv, volumeArg, type RunSpec } from '../../lib/container/engine.ts';
import {
  chainsOf, containersConf, dockerdArgs, forwardPolicyOf, hasBoundingCap, iptablesCleanupScript,
} from '../../scripts/engines.ts';

test('USE_DOCKER wins over USE_PODMAN; neither means a host build', () => {
  assert.is(engineFor({ useDocker: true, usePodman: true }), 'docker');
  assert.is(engineFor({ useDocker: false, usePodman: true }), 'podman');
  assert.is(engineFor({ useDocker: false, usePodman: false }), undefined);
});

test('remote engines: tcp/ssh endpoints are remote, unix sockets are local', () => {
  assert.is(remoteEndpoint('docker', {}), undefined);
  assert.is(remoteEndpoint('docker', { DOCKER_HOST: 'unix:///run/x.sock' }), undefined);
  assert.is(remoteEndpoint('docker', { DOCKER_HOST: 'tcp://10.0.0.1:2376' }), 'tcp://10.0.0.1:2376');
  assert.is(remoteEndpoint('docker', { CONTAINER_HOST: 'ssh://h' }), undefined, 'docker ignores CONTAINER_HOST');
  assert.is(remoteEndpoint('podman', { CONTAINER_HOST: 'ssh://core@h/run/podman/podman.sock' }), 'ssh://core@h/run/podman/podman.sock');
  assert.is(remoteEndpoint('podman', { CONTAINER_HOST: 'unix:///run/podman/podman.sock' }), undefined);
});

test('build: --runtime only for podman, build args in order, -t/-f/context last', () => {
  const spec = {
    image: 'debian-rootfs-osbuilder', contextDir: '/p/rootfs/debian', dockerfile: '/tmp/s/Dockerfile',
    buildArgs: [['http_proxy', ''], ['IMAGE_REGISTRY', 'localhost']] as [string, string][], runtime: 'runc',
  };
  assert.equal(buildArgv({ ...spec, engine: 'docker' }), [
    'build', '--build-arg', 'http_proxy=', '--build-arg', 'IMAGE_REGISTRY=localhost',
    '-t', 'debian-rootfs-osbuilder', '-f', '/tmp/s/Dockerfile', '/p/rootfs/debian',
  ]);
  assert.equal(buildArgv({ ...spec, engine: 'podman' }).slice(0, 3), ['build', '--runtime', 'runc']);
});

test('volumes: read-only and SELinux relabel options; ":" and "," refused', () => {
  assert.is(volumeArg({ source: '/a', target: '/b' }, false), '/a:/b');
  assert.is(volumeArg({ source: '/a', target: '/b', readOnly: true }, false), '/a:/b:ro');
  assert.is(volumeArg({ source: '/a', target: '/b', readOnly: true }, true), '/a:/b:ro,Z');
  assert.is(volumeArg({ source: '/a', target: '/b' }, true), '/a:/b:Z');
  assert.throws(() => volumeArg({ source: '/a:b', target: '/b' }, false), isBuildError(/rename/));
});

test('run: every kind of argument, image and command last', () => {
  const spec: RunSpec = {
    engine: 'docker', image: 'img', name: 'n1', runtime: 'runc', ulimits: ['nofile=5:5'], caps: ['SYS_ADMIN', 'MKNOD'],
    securityOpts: ['apparmor=unconfined'], env: [['A', '1'], ['B', 'x y']], mounts: [{ source: '/h', target: '/c' }],
    relabel: false, command: ['node', '/s.mjs', 'debian'],
  };
  assert.equal(runArgv(spec), [
    'run', '--rm', '--name', 'n1', '--runtime', 'runc', '--ulimit', 'nofile=5:5',
    '--cap-add', 'SYS_ADMIN', '--cap-add', 'MKNOD', '--security-opt', 'apparmor=unconfined',
    '--env', 'A=1', '--env', 'B=x y', '-v', '/h:/c', 'img', 'node', '/s.mjs', 'debian',
  ]);
});

test('rootless podman (a non-root caller): build and run share the caller\'s network, nothing else changes', () => {
  const build = { engine: 'podman' as const, image: 'i', contextDir: '/c', dockerfile: '/d', buildArgs: [] };
  assert.equal(buildArgv({ ...build, hostNetwork: true }), ['build', '--network', 'host', '-t', 'i', '-f', '/d', '/c']);
  const run: RunSpec = {
    engine: 'podman', image: 'img', name: 'n', runtime: 'runc', ulimits: [], caps: [], securityOpts: [], env: [], mounts: [], relabel: false, command: ['true'],
  };
  assert.equal(runArgv({ ...run, hostNetwork: true }), ['run', '--rm', '--name', 'n', '--runtime', 'runc', '--network', 'host', 'img', 'true']);
  assert.equal(runArgv(run), ['run', '--rm', '--name', 'n', '--runtime', 'runc', 'img', 'true']);
  assert.is(rootlessEngine('podman'), false, 'root runs podman rootful');
  assert.is(rootlessEngine('docker'), false);
});

const DOCKER_SAVE = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:MINE - [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i eth0 -j MINE
-A DOCKER-USER -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -m comment --comment "keep \\"me\\"" -j ACCEPT
-A DOCKER -i docker0 -j RETURN
COMMIT
`;

test('iptables-save parsing: chains per table, FORWARD policy', () => {
  assert.equal(chainsOf(DOCKER_SAVE), [
    'filter/INPUT', 'filter/FORWARD', 'filter/OUTPUT', 'filter/MINE', 'filter/DOCKER', 'filter/DOCKER-USER',
    'nat/PREROUTING', 'nat/POSTROUTING', 'nat/DOCKER',
  ]);
  assert.is(forwardPolicyOf(DOCKER_SAVE), 'DROP');
});

test('iptables cleanup removes only what the engine added since the snapshot', () => {
  const before = { bridgeExisted: false, chains: ['filter/INPUT', 'filter/FORWARD', 'filter/OUTPUT', 'filter/MINE', 'nat/PREROUTING', 'nat/POSTROUTING'], forwardPolicy: 'ACCEPT' };
  assert.is(iptablesCleanupScript(DOCKER_SAVE, before, { bridge: 'docker0', chainPrefix: 'DOCKER' }), `*filter
-D FORWARD -j DOCKER-USER
-D FORWARD -o docker0 -j DOCKER
-F DOCKER
-F DOCKER-USER
-X DOCKER
-X DOCKER-USER
-P FORWARD ACCEPT
COMMIT
*nat
-D PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-D POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-F DOCKER
-X DOCKER
COMMIT
`);
  // Everything already there before start: nothing to undo.
  const all = { bridgeExisted: true, chains: chainsOf(DOCKER_SAVE), forwardPolicy: 'DROP' };
  assert.is(iptablesCleanupScript(DOCKER_SAVE, all, { bridge: 'docker0', chainPrefix: 'DOCKER' }), '');
});

test('capability bounding set: CAP_SYS_RESOURCE (24) present or not', () => {
  assert.ok(hasBoundingCap('CapBnd:\t000001ffffffffff\n', 24));
  assert.not.ok(hasBoundingCap('CapBnd:\t000001fffeffffff\n', 24));
  assert.not.ok(hasBoundingCap('no such line', 24));
});

test('podman containers.conf and private dockerd arguments', () => {
  const conf = containersConf(20000);
  assert.match(conf, /^default_ulimits = \["nofile=20000:20000", "nproc=32768:32768"\]$/m);
  assert.match(conf, /^cgroup_manager = "cgroupfs"$/m);
  assert.match(conf, /^events_logger = "file"$/m);
  const args = dockerdArgs(true);
  assert.ok(args.includes('--host=unix:///run/osbuilder-ts/docker.sock'));
  assert.ok(args.some((a) => /^--add-runtime=runc-without-sys-resource=\/.*scripts\/runc-without-sys-resource$/.test(a)));
  assert.ok(args.includes('--default-runtime=runc-without-sys-resource'));
  assert.not.ok(dockerdArgs(false).some((a) => a.includes('runtime')));
});

test.run();
