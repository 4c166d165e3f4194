// The rootfs checks image_builder.sh makes before packing: an init exists,
// and it is systemd (AGENT_INIT=no) or the agent (AGENT_INIT=yes). Symlinks
// are resolved inside the rootfs as the guest will (lib/core/in-root.ts):
// a dangling init, or one pointing at a host file the tree lacks, fails.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describeInRoot, executableInRoot, resolveInRoot } from '../core/in-root.ts';
import { die, ok } from '../core/log.ts';

const SYSTEMD_PATHS = ['usr/lib/systemd/systemd', 'lib/systemd/systemd'];

export function checkRootfs(root: string, agentInit: 'yes' | 'no'): void {
  const init = executableInRoot(root, 'sbin/init');
  if (init === 'missing') die(`/sbin/init is not installed in ${root}: build the rootfs with rootfs.ts first`);
  if (init === 'dangling') die(`${describeInRoot(root, 'sbin/init', init)}: point it at a file inside the rootfs`);
  ok('init is installed');
  if (agentInit === 'no') {
    const link = lstatSync(join(root, 'sbin/init')).isSymbolicLink() ? readlinkSync(join(root, 'sbin/init')) : '';
    if (link.includes('NVRC')) return ok('init is NVRC');
    if (!SYSTEMD_PATHS.some((p) => executableInRoot(root, p) === 'ok')) {
      die(`none of /${SYSTEMD_PATHS.join(', /')} is installed in ${root} as an executable file (links resolved inside the rootfs): install systemd, or set AGENT_INIT=yes if the agent is init`);
    }
    return ok('init is systemd');
  }
  if (init !== 'ok') {
    die(`/sbin/init in ${root} is not an executable file: with AGENT_INIT=yes the agent must be /sbin/init (AGENT_BIN names the agent binary)`);
  }
  const initBytes = readFileSync(resolveInRoot(root, 'sbin/init')!);
  for (const p of SYSTEMD_PATHS) {
    const systemd = resolveInRoot(root, p);
    if (systemd && executableInRoot(root, p) === 'ok' && readFileSync(systemd).equals(initBytes)) {
      die(`AGENT_INIT=yes but /sbin/init in ${root} is systemd: put the agent there, or use AGENT_INIT=no`);
    }
  }
  ok('Agent installed');
}
