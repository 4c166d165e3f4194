// Settings that end up in paths, checked as values before any work (issue 23
// items 3, 6, 7, 9; issue 22 item 7): AGENT_BIN is a file name, OS_VERSION,
// BUILD_VARIANT one name, LIBC and ARCH one of their set, an nvidia* variant
// refused, a ROOTFS_DIR replaced only with a manifest that parses and names
// it, and a newline in a value shown escaped in the ERROR. Each case: non-zero
// exit, exactly one ERROR line, nothing changed in the scratch parent (a
// sentinel directory beside the scratch tree included) or the host's
// directories. The builds point at a missing repository, so that code
// without a check fails fast too (with another message).
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import { $ } from '../../lib/core/exec.ts';
import { assertRefused, runRefusals, type Outcome } from '../helpers/refusals.ts';

const repo = new URL('../../', import.meta.url).pathname;
const tsx = join(repo, 'node_modules/.bin/tsx');

const parent = mkdtempSync('/var/tmp/osbuilder-values-');
const scratch = join(parent, 'scratch');
const p = (rel: string) => join(scratch, rel);

interface Case {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** Through the Makefile (make -C <repo> ARGS, as kata-deploy runs it) instead of rootfs.ts. */
  make?: boolean;
  error: RegExp;
}

// fedora from a repository that does not exist: a build that starts fails in seconds.
const base = { AGENT_SOURCE_BIN: '/bin/true', REPO_URL: 'file:///nonexistent-osbuilder-repo', DISTRO_CACHE_DIR: 'no', PACKAGE_CACHE_DIR: 'no' };
const build = (env: Record<string, string>, dir = 'r'): Pick<Case, 'args' | 'env'> => ({ args: ['-r', p(dir), 'fedora'], env: { ...base, ...env } });
const nvidia = /is not supported: the NVIDIA guests need upstream's NVIDIA builder \(rootfs-builder\/nvidia\/: the GPU driver stack from NVIDIA's package repositories, a driver built for the guest kernel\), which osbuilder-ts does not have; build them with upstream's osbuilder, or drop BUILD_VARIANT$/;
const notOurs = (why: string) => new RegExp(`ROOTFS_DIR .*/user_rootfs exists and is not empty, and its manifest .*/\\.user_rootfs\\.manifest\\.json does not show a tree osbuilder-ts built there \\(${why}\\): it is left alone; remove both or give another directory with -r$`);

const cases: Case[] = [
  // issue 23 item 3: AGENT_BIN is a file name in usr/bin
  { name: 'AGENT_BIN climbs out of the tree', ...build({ AGENT_BIN: '../../../../outside/kata-agent' }), error: /^ERROR: AGENT_BIN=\.\.\/\.\.\/\.\.\/\.\.\/outside\/kata-agent is not valid: it names the agent binary in usr\/bin, so give one name of letters, digits/ },
  { name: 'AGENT_BIN with AGENT_TARBALL climbs to a host file', ...build({ AGENT_BIN: '../../../../outside/host-file', AGENT_SOURCE_BIN: '', AGENT_TARBALL: p('agent.tar.zst') }), error: /^ERROR: AGENT_BIN=\.\.\/.*outside\/host-file is not valid/ },
  { name: 'AGENT_BIN is ..', ...build({ AGENT_BIN: '..' }), error: /^ERROR: AGENT_BIN=\.\. is not valid/ },
  { name: 'AGENT_BIN is a path', ...build({ AGENT_BIN: 'sbin/init' }), error: /^ERROR: AGENT_BIN=sbin\/init is not valid/ },
  // issue 23 item 6: OS_VERSION, LIBC, ARCH, BUILD_VARIANT as values
  { name: 'OS_VERSION climbs out of PACKAGE_CACHE_DIR', ...build({ OS_VERSION: '../../escape', PACKAGE_CACHE_DIR: p('packages') }), error: /^ERROR: OS_VERSION=\.\.\/\.\.\/escape is not valid: it names a distro release, so give one name of letters, digits, '\.', '_', '\+' and '-' \(at most 200, not starting with '\.' or '-'; no '\/'\)$/ },
  { name: 'OS_VERSION is ..', ...build({ OS_VERSION: '..' }), error: /^ERROR: OS_VERSION=\.\. is not valid: it names a distro release, so give one name/ },
  { name: 'OS_VERSION starts with -', ...build({ OS_VERSION: '-rf' }), error: /^ERROR: OS_VERSION=-rf is not valid/ },
  { name: 'LIBC is a path', ...build({ LIBC: '../x' }), error: /^ERROR: LIBC=\.\.\/x is not valid: use one of musl, gnu$/ },
  { name: 'LIBC is unknown', ...build({ LIBC: 'uclibc' }), error: /^ERROR: LIBC=uclibc is not valid: use one of musl, gnu$/ },
  { name: 'ARCH is a path', ...build({ ARCH: '../x' }), error: /^ERROR: ARCH=\.\.\/x is not a supported architecture: use one of x86_64, aarch64, ppc64le, s390x$/ },
  { name: 'BUILD_VARIANT is a path', ...build({ BUILD_VARIANT: '../x' }), error: /^ERROR: BUILD_VARIANT=\.\.\/x is not valid: it names an image variant, so give one name/ },
  // issue 22 item 7: the NVIDIA variants
  ...['nvidia', 'nvidia-gpu', 'nvidia-gpu-confidential', 'nvidia-gpu-extension'].map((v) => ({ name: `BUILD_VARIANT=${v}`, ...build({ BUILD_VARIANT: v }), error: new RegExp(`^ERROR: BUILD_VARIANT=${v} ${nvidia.source}`) })),
  { name: 'make image BUILD_VARIANT=nvidia-gpu (as kata-deploy runs it)', make: true, args: ['image', 'DISTRO=fedora', 'BUILD_VARIANT=nvidia-gpu', `ROOTFS_BUILD_DEST=${scratch}`, `IMAGES_BUILD_DEST=${scratch}`], env: base, error: /^ERROR: BUILD_VARIANT=nvidia-gpu is not supported/ },
  // issue 23 item 7: a ROOTFS_DIR is replaced only with a manifest that parses and names it
  { name: 'a 0-byte manifest beside a user directory', ...build({}, 'empty-manifest/user_rootfs'), error: notOurs('it is empty') },
  { name: 'a damaged manifest beside a user directory', ...build({}, 'damaged-manifest/user_rootfs'), error: notOurs('it is not a manifest of this osbuilder-ts \\(damaged, or of another format\\)') },
  { name: 'a manifest naming another directory', ...build({}, 'other-manifest/user_rootfs'), error: notOurs('it names "other_rootfs"') },
  { name: 'a manifest naming no directory', ...build({}, 'nameless-manifest/user_rootfs'), error: notOurs('it names no directory') },
  // issue 23 item 9: a newline in a value is shown, not cut at
  { name: 'OS_VERSION holding a newline', ...build({ OS_VERSION: 'trixie\nrm -rf' }), error: /^ERROR: OS_VERSION=trixie\\nrm -rf is not valid: it names a distro release, so give one name/ },
  { name: 'KERNEL_MODULES_DIR holding a newline', ...build({ KERNEL_MODULES_DIR: '/nonexistent\nsecond line' }), error: /^ERROR: KERNEL_MODULES_DIR=\/nonexistent\\nsecond line is not an existing directory: give the modules directory or unset it$/ },
  // issue 23 item 9: a huge file where a small one belongs is named, not node's string-length error
  { name: 'KATA_VERSIONS_FILE of 3 GiB', ...build({ KATA_VERSIONS_FILE: p('huge-versions.yaml') }), error: /^ERROR: KATA_VERSIONS_FILE=\S+huge-versions\.yaml is 3221225472 bytes, more than the 64 MiB such a file can be: give the right file$/ },
];

let outcomes = new Map<string, Promise<Outcome>>();

function run(c: Case) {
  const env = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root', ...c.env };
  if (c.make) return $({ nothrow: true, cwd: scratch, env })`make -C ${repo} ${c.args}`;
  return $({ nothrow: true, cwd: scratch, env })`${tsx} ${join(repo, 'rootfs.ts')} ${c.args}`;
}

/** A directory of the user's, with a file, beside a manifest holding `manifest`. */
function userDir(dir: string, manifest: string): void {
  mkdirSync(p(`${dir}/user_rootfs`), { recursive: true });
  writeFileSync(p(`${dir}/user_rootfs/thesis.tex`), 'years of work\n');
  writeFileSync(p(`${dir}/.user_rootfs.manifest.json`), manifest);
}

test.before(async () => {
  mkdirSync(join(parent, 'outside'), { recursive: true });
  writeFileSync(join(parent, 'outside/host-file'), 'a host file AGENT_BIN must not reach\n');
  mkdirSync(p('r'), { recursive: true });
  // A real zstd tarball: AGENT_TARBALL's own checks pass, so only AGENT_BIN can stop the build.
  mkdirSync(p('agent/usr/bin'), { recursive: true });
  writeFileSync(p('agent/usr/bin/kata-agent'), '#!/bin/sh\n');
  await $`tar --zstd -cf ${p('agent.tar.zst')} -C ${p('agent')} usr`;
  writeFileSync(p('huge-versions.yaml'), '');
  truncateSync(p('huge-versions.yaml'), 3 * 2 ** 30);
  userDir('empty-manifest', '');
  userDir('damaged-manifest', '{"format": 2, "inputs": {');
  const manifest = (rootfs?: string) => JSON.stringify({ format: 2, inputs: {}, distroStage: [], ...(rootfs ? { rootfs } : {}) });
  userDir('other-manifest', manifest('other_rootfs'));
  userDir('nameless-manifest', manifest());
  outcomes = runRefusals(cases, parent, run);
});

test.after(() => rmSync(parent, { recursive: true, force: true }));

for (const c of cases) {
  test(c.name, async () => {
    assertRefused(await outcomes.get(c.name)!, c.error, false);
  });
}

test.run();
