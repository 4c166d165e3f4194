// The AGENT_INIT=no tree as the AGENT_INIT=yes tree plus what AGENT_INIT=no
// adds (Debian-family: init, which brings systemd), for distros whose builder
// can install over a finished tree (DistroConfig.buildRootfsOver). A
// distro's two guests (systemd as init for the image, the agent as init for
// the initrd) then share one bootstrap: the AGENT_INIT=yes tree is kept in
// the distro-tree cache under the key an AGENT_INIT=yes build looks for, and
// taken from there by the next AGENT_INIT=no build. The AGENT_INIT=no tree is
// made this way whether the cache held the layer or not, so what it contains
// never depends on the cache.
import { onCleanup } from '../core/cli.ts';
import { info } from '../core/log.ts';
import { removeTree } from '../core/safe-paths.ts';
import { withWorkDir } from './context.ts';
import { buildDnfRootfs } from './dnf.ts';
import type { RootfsContext } from './types.ts';

export interface InitLayer {
  /** The AGENT_INIT=yes package list: the layer's. */
  packages: string[];
  /** What AGENT_INIT=no adds to it. */
  adds: string[];
}

/** Where the layer comes from and goes: the distro-tree cache under the AGENT_INIT=yes key. */
export interface LayerStore {
  /** Put the cached layer at `dir`; false when there is none to use. */
  restore: (dir: string) => Promise<boolean>;
  /** Keep the freshly built layer at `dir` (never throws: the cache is a speed-up). */
  keep: (dir: string) => Promise<void>;
}

/**
 * The layer of an AGENT_INIT=no build, or undefined: AGENT_INIT=yes, a
 * builder that cannot install over a tree, or lists of which the
 * AGENT_INIT=yes one is not a part of the other.
 */
export function initLayerOf(ctx: RootfsContext): InitLayer | undefined {
  const distro = ctx.distro;
  if (ctx.settings.agentInit !== 'no' || !distro?.buildRootfsOver) return undefined;
  const packages = distro.packages({ agentInit: 'yes', seccomp: ctx.settings.seccomp, arch: ctx.arch });
  const adds = ctx.packages.filter((p) => !packages.includes(p));
  if (!adds.length || packages.some((p) => !ctx.packages.includes(p))) return undefined;
  return { packages, adds };
}

/** The tree of ctx (AGENT_INIT=no) built over the layer, which is taken from `store` or built (and kept) first. */
export async function buildOverInitLayer(ctx: RootfsContext, layer: InitLayer, store?: LayerStore): Promise<void> {
  const distro = ctx.distro!;
  const dir = `${ctx.workDir}-layer`;
  const layerCtx = withWorkDir({ ...ctx, packages: layer.packages, settings: { ...ctx.settings, agentInit: 'yes' } }, dir);
  const dropCleanup = onCleanup(() => removeTree(dir));
  try {
    let kept: Promise<void> = Promise.resolve();
    if (store && (await store.restore(dir))) info(`The AGENT_INIT=yes tree came from the distro-tree cache: installing ${layer.adds.join(' ')} over it`);
    else {
      info(`Building the AGENT_INIT=yes tree first (${layer.packages.join(' ')}), then ${layer.adds.join(' ')} over it: an AGENT_INIT=yes build of the same inputs takes the first from the distro-tree cache`);
      await (distro.buildRootfs ?? buildDnfRootfs)(layerCtx);
      // Stored while the packages go in over a copy of it: both only read it.
      if (store) kept = store.keep(dir);
    }
    try {
      await distro.buildRootfsOver!.build(ctx, dir, layer.adds);
    } finally {
      await kept;
    }
  } finally {
    await removeTree(dir);
    dropCleanup();
  }
}
