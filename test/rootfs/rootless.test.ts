// Rootless builds (lib/core/userns.ts): a non-root user created here, with a
// subordinate id range and no container engine, runs `make image-debian
// initrd-debian` in its own copy of the project, while root runs the same
// make beside it, both with SOURCE_DATE_EPOCH. The build runs as root of a
// user namespace: the tree is the root build's entry for entry (owners
// through the mapping, content, /dev, summary and SBOM), the ext4 image,
// the initrd and an erofs image are the root build's bytes and boot to the
// agent, and `make clean` and a SIGINT mid-build leave nothing the user
// cannot remove.
// Each refusal (no range, a range too small, no newuidmap, user namespaces
// off by sysctl) is one ERROR before any work.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bootGuest } from '../../lib/boot/boot.ts';
import { $ } from '../../lib/core/exec.ts';
import { subordinateRange, type SubRange } from '../../lib/core/userns.ts';
import { AGENT_MARKER, testAgentBinary } from '../helpers/agent.ts';
import { cacheRoot } from '../helpers/cache.ts';
import { runRootfs } from '../helpers/rootfs-fixture.ts';
import { buildRpmRepo, FEDORA_STAND_INS } from '../helpers/rpm-repo.ts';
import { projectCopy, type TestUser as User, testUser as user } from '../helpers/nonroot-user.ts';
import { treeListing } from '../helpers/tree-listing.ts';

const USER = 'osb-rootless';
const NO_RANGE = 'osb-rl-norange';
const SMALL_RANGE = 'osb-rl-small';
const EPOCH = '1700000000';
const SYS_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin';

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ERROR:'));

const s = suite('rootless: a non-root user without an engine builds in a user namespace');
const work = mkdtempSync('/var/tmp/osb-rootless-');
const osbuilder = join(work, 'osbuilder');
const packages = join(work, 'packages');
const agent = join(work, 'kata-agent');
let me: User;
let uids: SubRange;

/** `cmd` as `u` in the project copy, with only the variables given. */
function asUser(u: User, cmd: string[], vars: Record<string, string> = {}, path = SYS_PATH) {
  const assigns = Object.entries({ PATH: path, HOME: u.home, PACKAGE_CACHE_DIR: packages, DISTRO_CACHE_DIR: 'no', ...vars }).map(([k, v]) => `${k}=${v}`);
  return $({ nothrow: true, cwd: osbuilder })`runuser -u ${u.name} -- env -i ${assigns} ${cmd}`;
}
const rootfsAsUser = (u: User, dest: string, vars: Record<string, string> = {}, path?: string) =>
  asUser(u, ['node_modules/.bin/tsx', 'rootfs.ts', '-d', '-r', dest, 'debian'], { AGENT_SOURCE_BIN: agent, AGENT_INIT: 'yes', ...vars }, path);

/**
 * Every entry of a tree, sorted: type, mode, owner, size (not a directory's),
 * link target, mtime as the packers store it (clamped to SOURCE_DATE_EPOCH),
 * and a regular file's sha256.
 */
async function treeWithContent(root: string): Promise<string[]> {
  const sums = new Map((await $`cd ${root} && find . -type f -print0 | xargs -0 -r sha256sum`).stdout.trim().split('\n').map((l) => [l.slice(66), l.slice(0, 64)] as const));
  return (await $`cd ${root} && find . -printf '%p\t%y\t%m\t%U:%G\t%s\t%l\t%T@\n'`).stdout.trim().split('\n').map((l) => {
    const [path, type, mode, owner, size, target, mtime] = l.split('\t');
    return [path, type, mode, owner, type === 'd' ? '-' : size, target, Math.min(Math.floor(Number(mtime)), Number(EPOCH)), sums.get(path!) ?? ''].join('\t');
  }).sort();
}

/** On-disk ids as the namespace shows them: the user is 0, its range 1..N. */
function inNamespace(listing: string[], u: User, r: SubRange): string[] {
  const id = (n: number) => (n === u.uid ? 0 : n >= r.start && n < r.start + r.count ? n - r.start + 1 : n);
  return listing.map((l) => l.replace(/\t(\d+):(\d+)\t/, (_, a: string, b: string) => `\t${id(Number(a))}:${id(Number(b))}\t`));
}

s.before(async () => {
  me = await user(USER, { ranges: '600000-665535' });
  uids = subordinateRange(readFileSync('/etc/subuid', 'utf8'), USER, me.uid)!;
  await projectCopy(osbuilder);
  copyFileSync(await testAgentBinary(), agent);
  // The shared package cache is root's: the user gets a copy of Debian's, so nothing is downloaded again.
  mkdirSync(packages);
  const shared = join(cacheRoot, 'packages');
  for (const name of ['.osbuilder-ts-cache', 'debian-bookworm-amd64-mmdebstrap', '.debian-bookworm-amd64-mmdebstrap.debs']) {
    if (existsSync(join(shared, name))) await $`cp -a ${join(shared, name)} ${packages}/`;
  }
  await $`chown -R ${me.uid}:${me.gid} ${work}`;
  await $`chmod 755 ${work}`; // the users without a (big enough) range run the project too
});

s.after(async () => {
  // What the user's builds left (subordinate ids' files) goes through the user's namespace, as make clean does.
  await $({ nothrow: true })`runuser -u ${USER} -- unshare --map-root-user --map-users=${uids.start},1,${uids.count} --map-groups=${uids.start},1,${uids.count} rm -rf ${join(work, 'build')} ${join(work, 'out')}`;
  await $({ nothrow: true })`rm -rf ${work}`;
});

s('refusals: no range, a range too small, no newuidmap, user namespaces off: one ERROR each, nothing written', async () => {
  const dest = join(work, 'refused', 'rootfs');
  const noRange = await rootfsAsUser(await user(NO_RANGE), dest);
  assert.is(errorLines(noRange.stderr).length, 1, noRange.stderr);
  assert.match(errorLines(noRange.stderr)[0]!, new RegExp(`${NO_RANGE} has no range in /etc/subuid: give it one with usermod --add-subuids`));

  const small = await rootfsAsUser(await user(SMALL_RANGE, { ranges: '300000-300999' }), dest);
  assert.is(errorLines(small.stderr).length, 1, small.stderr);
  assert.match(errorLines(small.stderr)[0]!, /subordinate range \(1000 uids, 1000 gids\) is too small .* needs 65536/);

  // A PATH with every command of the host but newuidmap and newgidmap.
  const bin = join(work, 'bin-no-uidmap');
  mkdirSync(bin);
  for (const dir of SYS_PATH.split(':')) {
    for (const name of readdirSync(dir)) if (!/^new[ug]idmap$/.test(name) && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
  }
  const noTool = await rootfsAsUser(me, dest, {}, bin);
  assert.is(errorLines(noTool.stderr).length, 1, noTool.stderr);
  assert.match(errorLines(noTool.stderr)[0]!, /needs newuidmap, and it is not installed: apt-get install uidmap/);

  const before = (await $`sysctl -n user.max_user_namespaces`).stdout.trim();
  let off;
  if ((await $({ nothrow: true })`sysctl -qw user.max_user_namespaces=${before}`).exitCode === 0) {
    try {
      await $`sysctl -qw user.max_user_namespaces=0`;
      off = await rootfsAsUser(me, dest);
    } finally {
      await $`sysctl -qw user.max_user_namespaces=${before}`;
    }
  } else {
    // A host (a container) that may not change the sysctl: the build sees it 0 through a file bound over it, in a mount namespace of its own.
    const zero = join(work, 'sysctl-zero');
    writeFileSync(zero, '0\n');
    const assigns = Object.entries({ PATH: SYS_PATH, HOME: me.home, AGENT_SOURCE_BIN: agent }).map(([k, v]) => `${k}=${v}`);
    const script = `mount --bind ${zero} /proc/sys/user/max_user_namespaces && exec runuser -u ${USER} -- env -i ${assigns.join(' ')} node_modules/.bin/tsx rootfs.ts -d -r ${dest} debian`;
    off = await $({ nothrow: true, cwd: osbuilder })`unshare --mount --propagation private sh -c ${script}`;
  }
  assert.is(errorLines(off.stderr).length, 1, off.stderr);
  assert.match(errorLines(off.stderr)[0]!, /user namespaces are disabled on this host: user.max_user_namespaces is 0/);
  assert.not.ok(existsSync(join(work, 'refused')), 'nothing written');
});

s('make image-debian initrd-debian as the user and as root, SOURCE_DATE_EPOCH set: the same tree, ext4, erofs and initrd bytes; each booting to the agent; make clean removes it all', async () => {
  const dest = join(work, 'build');
  const out = join(work, 'out');
  const rootDest = join(work, 'root-build');
  const rootOut = join(work, 'root-out');
  // The destinations on make's command line: the Makefile sets them (:=) over the environment.
  const dests = [`ROOTFS_BUILD_DEST=${dest}`, `IMAGES_BUILD_DEST=${out}`];
  for (const dir of [dest, out]) {
    mkdirSync(dir);
    await $`chown ${me.uid}:${me.gid} ${dir}`;
  }
  for (const dir of [rootDest, rootOut]) mkdirSync(dir);
  const vars = { AGENT_SOURCE_BIN: agent, AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: EPOCH, DEBUG: '1' };
  // The root build of the same guest in the same project copy, beside the user's (root keeps the shared package cache).
  const rootEnv = Object.entries({ PATH: SYS_PATH, HOME: '/root', PACKAGE_CACHE_DIR: join(cacheRoot, 'packages'), DISTRO_CACHE_DIR: 'no', ...vars }).map(([k, v]) => `${k}=${v}`);
  const start = Date.now();
  const [make, rootMake] = await Promise.all([
    asUser(me, ['make', 'image-debian', 'initrd-debian', ...dests], vars),
    $({ nothrow: true, cwd: osbuilder })`env -i ${rootEnv} make image-debian initrd-debian ROOTFS_BUILD_DEST=${rootDest} IMAGES_BUILD_DEST=${rootOut}`,
  ]);
  assert.is(make.exitCode, 0, `${make.stdout.slice(-4000)}\n${make.stderr.slice(-6000)}`);
  assert.is(rootMake.exitCode, 0, `${rootMake.stdout.slice(-4000)}\n${rootMake.stderr.slice(-6000)}`);
  console.log(`make image-debian initrd-debian, rootless and root side by side: ${((Date.now() - start) / 1000).toFixed(0)} s`);
  assert.match(make.stdout + make.stderr, /INFO: Rootless: rootfs.ts runs in a user namespace as root/);
  assert.not.match(make.stderr, /Permission denied|WARNING: no device nodes/);
  const tree = join(dest, 'debian_rootfs');
  const rootTree = join(rootDest, 'debian_rootfs');
  assert.is(lstatSync(join(tree, 'sbin/init')).uid, me.uid, 'root\'s files (the agent as init) are the user\'s on disk');

  // The whole tree, read through the mapping: owners, modes, sizes, mtimes as the packers store them, content; dev/ and the summary/SBOM included.
  const rootless = inNamespace(await treeWithContent(tree), me, uids);
  const rooted = await treeWithContent(rootTree);
  const [inRootless, inRooted] = [new Set(rootless), new Set(rooted)];
  const differ = [...rootless.filter((l) => !inRooted.has(l)).map((l) => `rootless: ${l}`), ...rooted.filter((l) => !inRootless.has(l)).map((l) => `root:     ${l}`)];
  assert.equal(differ, [], `the trees differ:\n${differ.slice(0, 40).join('\n')}`);
  assert.ok(rooted.length > 3000, `a whole Debian tree (${rooted.length} entries)`);
  assert.ok(rootless.some((l) => /\t\d+:[1-9]\d*\t/.test(l)), 'files of system groups (shadow, messagebus, _chrony) keep their group');
  assert.ok(rooted.some((l) => l.startsWith('./dev/.osbuilder-device-nodes\t')) && !rooted.some((l) => /^\.\/dev\/[^\t]*\tc\t/.test(l)), 'dev/ holds the table, no nodes');

  const erofs = await asUser(me, ['node_modules/.bin/tsx', 'image.ts', '-o', join(out, 'erofs.img'), tree], { FS_TYPE: 'erofs', AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: EPOCH });
  assert.is(erofs.exitCode, 0, erofs.stderr);
  const rootErofs = await $({ nothrow: true, cwd: osbuilder, env: { PATH: SYS_PATH, HOME: '/root', FS_TYPE: 'erofs', AGENT_INIT: 'yes', SOURCE_DATE_EPOCH: EPOCH } })`node_modules/.bin/tsx image.ts -o ${join(rootOut, 'erofs.img')} ${rootTree}`;
  assert.is(rootErofs.exitCode, 0, rootErofs.stderr);
  for (const f of ['kata-containers-image-debian.img', 'kata-containers-initrd-debian.img', 'erofs.img']) {
    assert.is(lstatSync(join(out, f)).uid, me.uid, `${f} is the user's`);
    const cmp = await $({ nothrow: true })`cmp ${join(out, f)} ${join(rootOut, f)}`;
    assert.is(cmp.exitCode, 0, `${f}: the rootless build's bytes are the root build's (${cmp.stdout.trim()})`);
  }
  // The user's three outputs boot side by side (one core each in TCG).
  const outputs = { 'the ext4 image': { image: join(out, 'kata-containers-image-debian.img') }, 'the erofs image': { image: join(out, 'erofs.img') }, 'the initrd': { initrd: join(out, 'kata-containers-initrd-debian.img') } };
  const boots = await Promise.all(Object.values(outputs).map((target) => bootGuest(target)));
  Object.keys(outputs).forEach((name, i) => {
    assert.ok(boots[i]!.markerSeen, `${AGENT_MARKER} from ${name}; last lines:\n${boots[i]!.console.split('\n').slice(-15).join('\n')}`);
  });

  const clean = await asUser(me, ['make', 'clean', 'DISTRO=debian', ...dests]);
  assert.is(clean.exitCode, 0, clean.stderr);
  assert.equal(readdirSync(dest), [], 'make clean removed the tree, its manifest and marker');
  assert.equal(readdirSync(out).filter((n) => n.startsWith('kata-containers')), [], 'and the images');
  await $`rm -rf ${rootDest} ${rootOut}`;
});

s('fedora with dnf --installroot in the namespace (stand-in repository): the root build\'s listing and owners', async () => {
  const repo = await buildRpmRepo(join(work, 'rpms'), FEDORA_STAND_INS);
  await $`chmod -R a+rX ${join(work, 'rpms')}`;
  const vars = { REPO_URL: `file://${repo}`, AGENT_SOURCE_BIN: agent, SOURCE_DATE_EPOCH: EPOCH };
  const rootTree = join(work, 'fedora-root', 'rootfs');
  const asRoot = await runRootfs(['-r', rootTree, 'fedora'], vars);
  assert.is(asRoot.exitCode, 0, asRoot.stderr);
  const tree = join(work, 'fedora-rootless', 'rootfs');
  mkdirSync(join(tree, '..'));
  await $`chown ${me.uid}:${me.gid} ${join(tree, '..')}`;
  const rootless = await asUser(me, ['node_modules/.bin/tsx', 'rootfs.ts', '-r', tree, 'fedora'], vars);
  assert.is(rootless.exitCode, 0, rootless.stderr);
  assert.match(rootless.stdout + rootless.stderr, /INFO: Rootless: rootfs.ts runs in a user namespace as root/);
  const aside = [/^\.\/var\/lib\/osbuilder\//];
  const listed = async (root: string, map: boolean) => {
    const l = await treeListing(root);
    return (map ? inNamespace(l, me, uids) : l).filter((x) => !aside.some((re) => re.test(x)));
  };
  const rooted = await listed(rootTree, false);
  assert.equal(await listed(tree, true), rooted);
  assert.ok(rooted.some((l) => /^\.\/usr\/bin\/kata-agent\tf\t755\t0:0\t/.test(l)), 'the agent is root\'s in both');
  await $`rm -rf ${join(work, 'fedora-root')}`;
  const rm = await asUser(me, ['node_modules/.bin/tsx', 'scripts/remove-trees.ts', join(work, 'fedora-rootless')]);
  assert.is(rm.exitCode, 0, rm.stderr);
  assert.not.ok(existsSync(join(work, 'fedora-rootless')), 'remove-trees.ts (make clean\'s) removed it as the user');
});

s('SIGINT mid-build: the user can remove everything left', async () => {
  const parent = join(work, 'interrupted');
  const assigns = Object.entries({ PATH: SYS_PATH, HOME: me.home, PACKAGE_CACHE_DIR: packages, DISTRO_CACHE_DIR: 'no', AGENT_SOURCE_BIN: agent, AGENT_INIT: 'yes' }).map(([k, v]) => `${k}=${v}`);
  const child = spawn('runuser', ['-u', USER, '--', 'env', '-i', ...assigns, 'node_modules/.bin/tsx', 'rootfs.ts', '-d', '-r', join(parent, 'rootfs'), 'debian'], { cwd: osbuilder, detached: true });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  while (!/mmdebstrap bookworm/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 8000)); // mmdebstrap is writing the tree
  process.kill(-child.pid!, 'SIGINT'); // Ctrl-C: the whole process group
  const code = await exited;
  // runuser may return before the build has cleaned up: wait for the whole group.
  while ((await $({ nothrow: true })`pgrep -g ${child.pid!}`).exitCode === 0) await new Promise((r) => setTimeout(r, 200));
  assert.is.not(code, 0, stderr);
  assert.match(stderr, /interrupted by SIGINT, cleaning up/);
  assert.equal(readdirSync('/dev/shm').filter((n) => n.startsWith('osbuilder-rootfs-') && lstatSync(join('/dev/shm', n)).uid === me.uid), [], 'no RAM stage left');
  const rm = await $({ nothrow: true })`runuser -u ${USER} -- rm -rf ${parent}`;
  assert.is(rm.exitCode, 0, `what the build left, the user removes: ${rm.stderr}`);
});

s.run();
