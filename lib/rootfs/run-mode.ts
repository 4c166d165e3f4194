// Where the steps of a rootfs build run, decided once at the start of the
// build (lib/rootfs/build.ts) and passed down (docs/rootfs.md §2):
// - host: the distro stage and the setup run here (a non-root caller
//   without an engine gets here as root of a user namespace);
// - container-outer: root with an engine: the distro stage in the build
//   container, the setup here on the host, the distro-tree cache between;
// - container-whole: a non-root caller with an engine: the whole flow,
//   setup included, in the build container (its tree is root's);
// - container-inner: this process is the stage inside the build container.
// A plan (--dry-run, PLAN=1) is any of these printed instead of done: a plan
// of a container build shows the engine's commands.
import { type Engine, engineFor, nonRootCaller } from '../core/engine-choice.ts';
import type { RootfsSettings } from './settings.ts';

export type RunMode =
  | { kind: 'host'; plan: boolean }
  | { kind: 'container-outer'; engine: Engine; plan: boolean }
  | { kind: 'container-whole'; engine: Engine; plan: boolean }
  | { kind: 'container-inner'; plan: boolean };

export function runModeOf(s: Pick<RootfsSettings, 'insideContainer' | 'plan' | 'useDocker' | 'usePodman'>): RunMode {
  const plan = s.plan;
  if (s.insideContainer) return { kind: 'container-inner', plan };
  const engine = engineFor(s);
  if (!engine) return { kind: 'host', plan };
  return nonRootCaller() ? { kind: 'container-whole', engine, plan } : { kind: 'container-outer', engine, plan };
}

/** This process starts a build container for the distro stage. */
export const startsContainer = (m: RunMode): m is Extract<RunMode, { engine: Engine }> => m.kind === 'container-outer' || m.kind === 'container-whole';
