// Small synthetic rootfs trees for image.ts tests, and running image.ts itself.
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';

export const repoRoot = new URL('../../', import.meta.url).pathname;
const tsx = join(repoRoot, 'node_modules/.bin/tsx');

/** A tree with every entry type and the awkward cases (sticky, setuid, hard links, long links, a pruned unit). */
export async function syntheticRootfs(parent = '/tmp', opts: { machineId?: boolean } = {}): Promise<string> {
  const root = mkdtempSync(join(parent, 'image-rootfs-'));
  const dirs = ['sbin', 'etc', 'usr/lib/systemd/system', 'usr/lib/systemd/system-generators', 'lib', 'tmp', 'dev', 'var/log', 'empty'];
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/true', join(root, 'usr/lib/systemd/systemd'));
  chmodSync(join(root, 'usr/lib/systemd/systemd'), 0o755);
  symlinkSync('/usr/lib/systemd/systemd', join(root, 'sbin/init'));
  writeFileSync(join(root, 'usr/lib/systemd/system/systemd-journald.service'), '[Unit]\n');
  writeFileSync(join(root, 'usr/lib/systemd/system/systemd-udevd-control.socket'), '[Socket]\n');
  writeFileSync(join(root, 'usr/lib/systemd/system-generators/systemd-fstab-generator'), '#!/bin/sh\n');
  symlinkSync('systemd-journald.service.keep', join(root, 'usr/lib/systemd/system/systemd-random-seed.service')); // a link: kept
  writeFileSync(join(root, 'usr/lib/systemd/system/kata-agent.service'), '[Service]\n');
  chmodSync(join(root, 'tmp'), 0o1777);
  writeFileSync(join(root, 'etc/big'), Buffer.alloc(300_000, 7));
  chownSync(join(root, 'etc/big'), 1000, 1001);
  chmodSync(join(root, 'etc/big'), 0o4755);
  linkSync(join(root, 'etc/big'), join(root, 'etc/big-hardlink'));
  writeFileSync(join(root, 'etc/zeros'), Buffer.alloc(64 * 1024));
  writeFileSync(join(root, 'etc/sgid'), 'g');
  chmodSync(join(root, 'etc/sgid'), 0o2711);
  writeFileSync(join(root, 'etc/naïve-ünïcode'), 'u');
  symlinkSync('x'.repeat(120), join(root, 'etc/long-link'));
  symlinkSync('../tmp', join(root, 'var/tmp'));
  if (opts.machineId) writeFileSync(join(root, 'etc/machine-id'), 'abc\n');
  await $`mknod ${join(root, 'dev/null')} c 1 3`;
  await $`mknod ${join(root, 'dev/loop9')} b 7 9`;
  await $`mkfifo ${join(root, 'dev/fifo')}`;
  return root;
}

/** Run image.ts with arguments and extra environment; never throws. */
export function runImageTs(args: string[], env: Record<string, string> = {}, cwd = repoRoot) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['IMAGE', 'FS_TYPE', 'ROOT_FREE_SPACE', 'MEASURED_ROOTFS', 'SKIP_DAX_HEADER', 'SOURCE_DATE_EPOCH', 'AGENT_INIT', 'BLOCK_SIZE', 'USE_DOCKER', 'USE_PODMAN'].includes(k)));
  return $({ nothrow: true, cwd, env: { ...clean, ...env } })`${tsx} ${join(repoRoot, 'image.ts')} ${args}`;
}

/** find listing with timestamps: to prove a tree was not changed. */
export async function treeFingerprint(root: string): Promise<string> {
  return (await $`cd ${root} && find . -printf '%p %y %m %U %G %s %T@ %l\\n' | sort`).stdout;
}
