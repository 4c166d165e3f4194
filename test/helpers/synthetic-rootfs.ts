// A small rootfs with every kind of entry an initrd must carry: the test
// agent as /sbin/init and /usr/bin/kata-agent (hard links), symlinks
// (relative, absolute, dangling), device nodes, a fifo, odd modes and owners,
// an empty file, a name with spaces, a multi-megabyte file.
import { chmodSync, chownSync, copyFileSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';

export async function makeSyntheticRootfs(root: string, agent: string): Promise<void> {
  for (const d of ['sbin', 'usr/bin', 'usr/lib', 'etc/ssl', 'dev', 'proc', 'sys', 'tmp', 'home/user']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  copyFileSync(agent, join(root, 'sbin/init'));
  chmodSync(join(root, 'sbin/init'), 0o755);
  linkSync(join(root, 'sbin/init'), join(root, 'usr/bin/kata-agent'));
  writeFileSync(join(root, 'etc/hostname'), 'guest\n');
  writeFileSync(join(root, 'etc/ssl/private key'), 'secret');
  chmodSync(join(root, 'etc/ssl/private key'), 0o600);
  writeFileSync(join(root, 'etc/empty'), '');
  writeFileSync(join(root, 'usr/lib/blob'), Buffer.alloc(3 << 20, 0x5a));
  symlinkSync('../usr/bin/kata-agent', join(root, 'sbin/agent-rel'));
  symlinkSync('/etc/hostname', join(root, 'etc/hostname-abs'));
  symlinkSync('/nowhere', join(root, 'etc/dangling'));
  chmodSync(join(root, 'tmp'), 0o1777);
  chownSync(join(root, 'home/user'), 1000, 1000);
  writeFileSync(join(root, 'home/user/.profile'), 'export A=1\n');
  chownSync(join(root, 'home/user/.profile'), 1000, 100);
  chmodSync(join(root, 'usr/bin'), 0o2755);
  await $`mknod -m 600 ${join(root, 'dev/console')} c 5 1`;
  await $`mknod -m 660 ${join(root, 'dev/vda')} b 254 0`;
  await $`mkfifo -m 640 ${join(root, 'dev/initctl')}`;
}
