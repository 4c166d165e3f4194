// The rootfs checks image_builder.sh makes before packing: an init exists,
// and it is systemd (AGENT_INIT=no) or the agent (AGENT_INIT=yes). Symlinks
// are resolved inside the rootfs, never against the host's own files.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { isExecutableFile } from '../core/fs-checks.ts';
import { join, posix } from 'node:path';
import { die, ok } from '../core/log.ts';

const SYSTEMD_PATHS = ['usr/lib/systemd/systemd', 'lib/systemd/systemd'];

/** Follow symlinks as if `root` were `/`; the host path, or undefined when dangling. */
export function resolveInRoot(root: string, rel: string): string | undefined {
  let parts = rel.split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const name = parts.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, name);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      parts = [...posix.normalize(target).split('/').filter(Boolean), ...parts];
      continue;
    }
    done.push(name);
  }
  return join(root, ...done);
}

function exists(root: string, rel: string): boolean {
  try {
    lstatSync(join(root, rel));
    return true;
  } catch {
    return false;
  }
}

export function checkRootfs(root: string, agentInit: 'yes' | 'no'): void {
  if (!exists(root, 'sbin/init')) die(`/sbin/init is not installed in ${root}: build the rootfs with rootfs.ts first`);
  ok('init is installed');
  if (agentInit === 'no') {
    const link = lstatSync(join(root, 'sbin/init')).isSymbolicLink() ? readlinkSync(join(root, 'sbin/init')) : '';
    if (link.includes('NVRC')) return ok('init is NVRC');
    if (!SYSTEMD_PATHS.some((p) => exists(root, p))) {
      die(`none of /${SYSTEMD_PATHS.join(', /')} is installed in ${root}: install systemd, or set AGENT_INIT=yes if the agent is init`);
    }
    return ok('init is systemd');
  }
  const init = resolveInRoot(root, 'sbin/init');
  if (!init || !isExecutableFile(init)) {
    die(`/sbin/init in ${root} is not an executable file: with AGENT_INIT=yes the agent must be /sbin/init (AGENT_BIN names the agent binary)`);
  }
  const initBytes = readFileSync(init);
  for (const p of SYSTEMD_PATHS) {
    const systemd = resolveInRoot(root, p);
    if (systemd && isExecutableFile(systemd) && readFileSync(systemd).equals(initBytes)) {
      die(`AGENT_INIT=yes but /sbin/init in ${root} is systemd: put the agent there, or use AGENT_INIT=no`);
    }
  }
  ok('Agent installed');
}
