// Paths inside a rootfs resolved as the guest will see them: symlinks are
// followed with the rootfs as `/`, so an absolute target or `..` never
// reaches the host's own files. The result is a host path with no symlink in
// it. Writers go through lib/core/guest-tree.ts.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { fx } from './effects.ts';
import { join, posix } from 'node:path';
import { isExecutableFile } from './fs-checks.ts';
import { BuildError, die } from './log.ts';

const MAX_LINK_HOPS = 40;

interface Part {
  name: string;
  /** The link whose target this part comes from, as `/guest/path -> target`. */
  via?: string;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

const guestName = (done: string[], name?: string) => `/${[...done, ...(name ? [name] : [])].join('/')}`;

/**
 * The host path of `rel` in `root` as the guest resolves it. `followLast`:
 * a link as the last name is followed too. `create`: missing directories are
 * made (the last name included); under a link whose target is missing that
 * is refused, naming the link.
 */
export function guestPath(root: string, rel: string, opts: { followLast: boolean; create: boolean }): string {
  let parts: Part[] = rel.split('/').filter(Boolean).map((name) => ({ name }));
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part.name === '.') continue;
    if (part.name === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part.name);
    const st = lstatOrUndefined(host);
    if (!st) {
      // Nothing exists below a missing name: the rest is literal, no link can be on the way.
      const rest = [part, ...parts];
      if (rest.some((p) => p.name === '..')) die(`/${rel} in ${root}: ${guestName(done, part.name)} does not exist, so a later \`..\` cannot be resolved: give a path without \`..\``);
      const path = join(root, ...done, ...rest.map((p) => p.name).filter((n) => n !== '.'));
      if (opts.create) {
        const via = rest.find((p) => p.via)?.via;
        if (via) die(leadsNowhere(root, rel, via));
        fx.mkdir(path, { recursive: true });
      }
      return path;
    }
    if (st.isSymbolicLink() && (parts.length || opts.followLast)) {
      if (++hops > MAX_LINK_HOPS) die(`/${rel} in ${root}: too many levels of symlinks at ${guestName(done, part.name)}: fix the link loop in the rootfs`);
      const target = readlinkSync(host);
      const via = `${guestName(done, part.name)} -> ${target}`;
      if (target.startsWith('/')) done.length = 0;
      parts = [...posix.normalize(target).split('/').filter(Boolean).map((name) => ({ name, via })), ...parts];
      continue;
    }
    if (parts.length && !st.isDirectory()) die(`/${rel} in ${root}: ${guestName(done, part.name)} is not a directory: remove it from the rootfs or make it one`);
    if (!parts.length && opts.create && !st.isDirectory()) die(`/${rel} in ${root} is not a directory: remove it from the rootfs or make it one`);
    done.push(part.name);
  }
  return join(root, ...done);
}

function leadsNowhere(root: string, rel: string, via: string): string {
  return `cannot write /${rel} in ${root}: the symlink ${via} leads to no directory inside the rootfs (an absolute link is the rootfs's own /, as the guest sees it): point it inside the rootfs, or remove it`;
}

/** Follow symlinks as if `root` were `/`; the host path, or undefined when missing, dangling or looping. */
export function resolveInRoot(root: string, rel: string): string | undefined {
  let path;
  try {
    path = guestPath(root, rel, { followLast: true, create: false });
  } catch (e) {
    if (e instanceof BuildError) return undefined;
    throw e;
  }
  return lstatOrUndefined(path) ? path : undefined;
}

type InRootState = 'missing' | 'dangling' | 'not-executable' | 'ok';

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
