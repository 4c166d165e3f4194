// Paths inside a rootfs resolved as the guest will see them: symlinks are
// followed with the rootfs as `/`, so an absolute target or `..` never
// reaches the host's own files.
import { lstatSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { isExecutableFile } from './fs-checks.ts';

/** Follow symlinks as if `root` were `/`; the host path, or undefined when dangling or looping. */
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
    if (parts.length && !st.isDirectory()) return undefined;
    done.push(name);
  }
  return join(root, ...done);
}

export type InRootState = 'missing' | 'dangling' | 'not-executable' | 'ok';

/** Whether `rel` is, in the guest's view of `root`, an executable regular file. */
export function executableInRoot(root: string, rel: string): InRootState {
  const slash = rel.lastIndexOf('/');
  const parent = resolveInRoot(root, slash < 0 ? '' : rel.slice(0, slash));
  try {
    if (parent === undefined) return 'missing';
    lstatSync(join(parent, rel.slice(slash + 1)));
  } catch {
    return 'missing';
  }
  const host = resolveInRoot(root, rel);
  if (!host) return 'dangling';
  return isExecutableFile(host) ? 'ok' : 'not-executable';
}

/** One phrase for a failed check: what /rel is in the guest. */
export function describeInRoot(root: string, rel: string, state: InRootState): string {
  if (state === 'missing') return `/${rel} is not installed in ${root}`;
  if (state === 'dangling') {
    let target = '';
    try { target = readlinkSync(join(root, rel)); } catch { /* a parent link dangles */ }
    return `/${rel} in ${root} is a symlink${target ? ` to ${target}` : ''} that does not resolve inside the rootfs (the guest sees no such file)`;
  }
  return `/${rel} in ${root} is not an executable file`;
}
