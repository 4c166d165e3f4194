// Bad input across the entry points (rootfs.ts, image.ts, initrd.ts, boot.ts,
// the Makefile), one table: each case must exit non-zero with exactly one
// ERROR line naming the value and the fix, and change nothing on disk — not
// in the scratch tree, not in the host directories a wrong path could reach.
// Cases cheap to reject only (no build starts), run two at a time.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { assertRefused, runRefusals, type Outcome } from '../helpers/refusals.ts';

const repo = new URL('../../', import.meta.url).pathname;
const tsx = join(repo, 'node_modules/.bin/tsx');

// A parent of our own, so that other processes writing to /tmp or /var/tmp do not show up as changes.
const parent = mkdtempSync('/var/tmp/osbuilder-hardening-');
const scratch = join(parent, 'scratch');
const p = (rel: string) => join(scratch, rel);

interface Case {
  name: string;
  /** Entry point: a script of the repo, or `make` (run with -f Makefile in the scratch dir). */
  tool: 'rootfs.ts' | 'image.ts' | 'initrd.ts' | 'boot.ts' | 'make';
  args: string[];
  env?: Record<string, string>;
  error: RegExp;
}

const agent = { AGENT_SOURCE_BIN: '/bin/true' };
const img = () => p('out/kata.img');

const cases: Case[] = [
  // rootfs.ts
  { name: 'ROOTFS_DIR is a symlink to /home', tool: 'rootfs.ts', args: ['-r', p('to-home'), 'debian'], env: agent, error: /refusing to use ROOTFS_DIR .*to-home: it is the host system directory \/home; give a dedicated directory/ },
  { name: 'ROOTFS_DIR climbs to /etc through ..', tool: 'rootfs.ts', args: ['debian'], env: { ...agent, ROOTFS_DIR: `${scratch}/../../../../etc` }, error: /refusing to use ROOTFS_DIR .*: it is the host system directory \/etc/ },
  { name: 'ROOTFS_DIR is /bin (a link into /usr on merged-usr hosts)', tool: 'rootfs.ts', args: ['-r', '/bin', 'debian'], env: agent, error: /refusing to use ROOTFS_DIR \/bin: it is the host system directory/ },
  { name: 'ROOTFS_DIR inside /proc', tool: 'rootfs.ts', args: ['-r', '/proc/self/kata', 'debian'], env: agent, error: /inside the host system directory \/proc/ },
  { name: 'AGENT_TARBALL is not a zstd archive', tool: 'rootfs.ts', args: ['-r', p('r'), 'debian'], env: { AGENT_TARBALL: p('junk.tar.zst') }, error: /AGENT_TARBALL=.*junk.tar.zst is not a zstd archive: give a kata-agent .tar.zst/ },
  { name: 'AGENT_TARBALL is a directory', tool: 'rootfs.ts', args: ['-r', p('r'), 'debian'], env: { AGENT_TARBALL: p('empty') }, error: /AGENT_TARBALL=.*empty is not a file: give the path of a kata-agent .tar.zst/ },
  { name: 'versions.yaml is not YAML', tool: 'rootfs.ts', args: ['-r', p('r'), 'debian'], env: { ...agent, KATA_VERSIONS_FILE: p('corrupt.yaml') }, error: /corrupt.yaml is not valid YAML .*: fix it or point KATA_VERSIONS_FILE/ },
  { name: 'versions.yaml holds no mapping', tool: 'rootfs.ts', args: ['-r', p('r'), 'debian'], env: { ...agent, KATA_VERSIONS_FILE: p('scalar.yaml') }, error: /scalar.yaml does not hold a YAML mapping/ },
  { name: 'SECCOMP is not yes/no', tool: 'rootfs.ts', args: ['-r', p('r'), 'debian'], env: { ...agent, SECCOMP: 'on' }, error: /SECCOMP=on is not valid: use yes or no/ },
  { name: 'SOURCE_DATE_EPOCH negative', tool: 'rootfs.ts', args: ['-r', p('r'), 'debian'], env: { ...agent, SOURCE_DATE_EPOCH: '-3' }, error: /SOURCE_DATE_EPOCH=-3 is not a whole number/ },
  { name: 'two distros', tool: 'rootfs.ts', args: ['-r', p('r'), 'debian', 'fedora'], env: agent, error: /too many arguments: debian fedora; give at most one DISTRO/ },
  { name: 'KERNEL_MODULES_DIR is a file', tool: 'rootfs.ts', args: ['-r', p('r'), 'debian'], env: { ...agent, KERNEL_MODULES_DIR: p('junk.tar.zst') }, error: /KERNEL_MODULES_DIR=.* is not an existing directory/ },
  // image.ts (the checks run before the rootfs's contents are looked at)
  { name: 'image of /usr', tool: 'image.ts', args: ['-o', img(), '/usr'], error: /refusing to pack \/usr: it is the host system directory \/usr; give a rootfs directory/ },
  { name: 'image of a symlink to /etc', tool: 'image.ts', args: ['-o', img(), p('to-etc')], error: /refusing to pack .*to-etc: it is the host system directory \/etc/ },
  { name: 'image written into /etc', tool: 'image.ts', args: ['-o', '/etc/osbuilder-hardening.img', p('empty')], error: /refusing to write \/etc\/osbuilder-hardening.img into the host system directory \/etc: change -o/ },
  { name: 'image output is a directory', tool: 'image.ts', args: ['-o', p('out'), p('empty')], error: /-o .*out is a directory: give a file name/ },
  { name: 'image output inside the rootfs', tool: 'image.ts', args: ['-o', p('empty/kata.img'), p('empty')], error: /kata.img is inside the rootfs .*empty: write it elsewhere/ },
  { name: 'image -r too large', tool: 'image.ts', args: ['-r', '99999999', '-o', img(), p('empty')], error: /-r=99999999 is out of range: give at most 1048576 MB/ },
  { name: 'IMAGE_SIZE_ALIGNMENT_MB=0', tool: 'image.ts', args: ['-o', img(), p('empty')], env: { IMAGE_SIZE_ALIGNMENT_MB: '0' }, error: /IMAGE_SIZE_ALIGNMENT_MB=0 is out of range: give a number from 1 to/ },
  { name: 'MEASURED_ROOTFS not yes/no', tool: 'image.ts', args: ['-o', img(), p('empty')], env: { MEASURED_ROOTFS: 'true' }, error: /MEASURED_ROOTFS=true is not valid: use yes or no/ },
  // initrd.ts
  { name: 'initrd of a symlink to /usr', tool: 'initrd.ts', args: ['-o', img(), p('to-usr')], error: /refusing to pack .*to-usr: it is the host system directory \/usr/ },
  { name: 'initrd of a regular file', tool: 'initrd.ts', args: ['-o', img(), p('junk.tar.zst')], error: /junk.tar.zst is not a directory/ },
  { name: 'initrd written into /proc', tool: 'initrd.ts', args: ['-o', '/proc/kata-initrd.img', p('empty')], error: /refusing to write \/proc\/kata-initrd.img into the host system directory \/proc/ },
  { name: 'initrd -o without a value', tool: 'initrd.ts', args: [p('empty'), '-o'], error: /-o was given an empty file name: give the output file's name/ },
  // boot.ts
  { name: 'boot a missing file', tool: 'boot.ts', args: [p('none.img')], error: /none.img does not exist: give the path of a built image or initrd/ },
  { name: 'boot a directory', tool: 'boot.ts', args: [p('empty')], error: /empty is not a regular file: give the path of a built image or initrd/ },
  { name: 'boot a file that is no image', tool: 'boot.ts', args: [p('corrupt.yaml')], error: /corrupt.yaml is neither a disk image \(MBR\) nor an initrd/ },
  { name: 'boot with a missing kernel', tool: 'boot.ts', args: ['-k', p('vmlinuz'), p('corrupt.yaml')], error: /-k=.*vmlinuz does not exist: give the path of a guest kernel/ },
  { name: 'boot timeout 0', tool: 'boot.ts', args: ['-t', '0', p('corrupt.yaml')], error: /-t=0 is out of range: give a number from 1 to 3600/ },
  { name: 'boot media unknown', tool: 'boot.ts', args: ['-m', 'pci', p('corrupt.yaml')], error: /-m=pci is not valid: use one of virtio, nvdimm/ },
  { name: 'boot unknown option', tool: 'boot.ts', args: ['--fast', p('corrupt.yaml')], error: /unknown option --fast: see -h/ },
  { name: 'boot without a target', tool: 'boot.ts', args: [], error: /give one disk image or initrd to boot: see -h/ },
  // Makefile
  { name: 'make with an unknown DISTRO', tool: 'make', args: ['image', 'DISTRO=nosuch'], error: /ERROR: DISTRO=nosuch is not a supported distro: use one of .*debian/ },
  { name: 'make with AGENT_INIT=maybe', tool: 'make', args: ['initrd', 'AGENT_INIT=maybe'], error: /ERROR: AGENT_INIT=maybe is not valid: use yes or no/ },
  { name: 'make with an unknown BUILD_METHOD', tool: 'make', args: ['rootfs', 'BUILD_METHOD=dracut'], error: /ERROR: BUILD_METHOD=dracut is not valid: use one of distro/ },
];

let outcomes = new Map<string, Promise<Outcome>>();

function run(c: Case) {
  const env = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root', ...c.env };
  if (c.tool === 'make') return $({ nothrow: true, cwd: scratch, env })`make -f ${join(repo, 'Makefile')} ${c.args}`;
  return $({ nothrow: true, cwd: scratch, env })`${tsx} ${join(repo, c.tool)} ${c.args}`;
}

test.before(async () => {
  mkdirSync(p('empty'), { recursive: true });
  mkdirSync(p('out'));
  writeFileSync(p('junk.tar.zst'), 'not zstd');
  writeFileSync(p('corrupt.yaml'), 'languages: [rust,\n  meta: {');
  writeFileSync(p('scalar.yaml'), 'just a line of text\n');
  symlinkSync('/home', p('to-home'));
  symlinkSync('/etc', p('to-etc'));
  symlinkSync('/usr', p('to-usr'));
  outcomes = runRefusals(cases, parent, run);
});

test.after(() => rmSync(parent, { recursive: true, force: true }));

test('the table has at least 25 cases over every entry point', () => {
  assert.ok(cases.length >= 25, `${cases.length} cases`);
  assert.equal([...new Set(cases.map((c) => c.tool))].sort(), ['boot.ts', 'image.ts', 'initrd.ts', 'make', 'rootfs.ts']);
});

for (const c of cases) {
  test(`${c.tool}: ${c.name}`, async () => {
    assertRefused(await outcomes.get(c.name)!, c.error, c.tool !== 'make');
  });
}

test.run();
