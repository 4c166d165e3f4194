// Which container engine a build uses (USE_DOCKER / USE_PODMAN): asked by
// every script before it knows whether container code is needed at all.

export type Engine = 'docker' | 'podman';

/** USE_DOCKER wins over USE_PODMAN, as upstream. */
export function engineFor(s: { useDocker: boolean; usePodman: boolean }): Engine | undefined {
  if (s.useDocker) return 'docker';
  if (s.usePodman) return 'podman';
  return undefined;
}

/** The caller's uid and gid when it is not root (then every step that needs root runs in the engine's container). */
export function nonRootCaller(): { uid: number; gid: number } | undefined {
  const uid = process.geteuid?.() ?? 0;
  return uid === 0 ? undefined : { uid, gid: process.getegid?.() ?? uid };
}

/**
 * `uid:gid` of a non-root caller, for the container to give its outputs
 * back; undefined for root, and for podman, which a non-root caller runs
 * rootless: the container's root is the caller already.
 */
export function callerOwner(engine: Engine): string | undefined {
  const c = engine === 'docker' ? nonRootCaller() : undefined;
  return c && `${c.uid}:${c.gid}`;
}

/** The engine runs rootless: podman started by a non-root caller. */
export const rootlessEngine = (engine: Engine): boolean => engine === 'podman' && !!nonRootCaller();
