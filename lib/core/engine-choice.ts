// Which container engine a build uses (USE_DOCKER / USE_PODMAN): asked by
// every script before it knows whether container code is needed at all.
import { truthy } from './cli.ts';

export type Engine = 'docker' | 'podman';

/** USE_DOCKER wins over USE_PODMAN, as upstream. */
export function engineFor(s: { useDocker: boolean; usePodman: boolean }): Engine | undefined {
  if (s.useDocker) return 'docker';
  if (s.usePodman) return 'podman';
  return undefined;
}

/** The engine USE_DOCKER / USE_PODMAN ask for, if any. */
export function packEngine(env: NodeJS.ProcessEnv): Engine | undefined {
  return engineFor({ useDocker: truthy(env.USE_DOCKER ?? '', 'USE_DOCKER'), usePodman: truthy(env.USE_PODMAN ?? '', 'USE_PODMAN') });
}
