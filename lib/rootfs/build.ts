// The rootfs build (docs/rootfs.md): the checks before any work, the distro
// stage (on the host, or in a build container), the setup, the staging and
// the caches, and the overlay of an existing tree. rootfs.ts is its command
// line; where each step runs is the run mode, decided once (run-mode.ts).
import { existsSync, statSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { basename, dirname, join, resolve } from 'node:path';
import { hostOsId } from '../core/os-release.ts';
import { errorMessage, onCleanup, resolveSettings } from '../core/cli.ts';
import { CONTAINER_NEW_ENTRY_DIR, CONTAINER_NEW_LAYER_DIR, imageName, runContainerStage, type StageTreeCache } from '../container/rootfs-stage.ts';
import { giveToCaller } from '../container/owner.ts';
import { useContainerRemoval } from '../container/remove.ts';
import { failMarker, libcFor, splitWords, targetArch, withWorkDir } from './context.ts';
import type { DistroConfig, RootfsContext } from './types.ts';
import { buildDnfRootfs } from './dnf.ts';
import { DEBIAN_FAMILY } from './distro-packages.ts';
import { rerunRootless, wantsRootless } from '../core/userns.ts';
import { listDistros, loadDistro } from './distro.ts';
import { agentSourceOf, type AgentSource } from './agent.ts';
import { $, failureSummary, startPlanMode } from '../core/exec.ts';
import { BuildError, die, info, step, warn } from '../core/log.ts';
import { buildLine, checkRootfsCache, moveIntoPlace, storeManifest, type CacheDecision } from './cache.ts';
import { distroStageKey, withPackages } from './manifest.ts';
import { buildOverInitLayer, initLayerOf, type LayerStore } from './init-layer.ts';
import { beginEntry, commitEntry, entryFilled, fillEntry, hasEntry, restoreTree, storeTree, touchEntry, treeCacheFor, type TreeCache } from './tree-cache.ts';
import { checkRootfsDir, isEmptyDir, mountsBelow, realPathOf, removeTree } from '../core/safe-paths.ts';
import { checkBuildVariant, type RootfsSettings } from './settings.ts';
import { ramStagingParent } from './ram-staging.ts';
import { prepareOverlay, setupRootfs } from './setup.ts';
import { checkVersionsFile, versionsFileOf } from './versions.ts';
import { removeStaleTemps } from '../core/stale-temps.ts';
import { checkPolicyFile } from './policy.ts';
import { checkGuestTarballs } from './guest-tarballs.ts';
import { checkTarball } from './tar-unpack.ts';
import { checkAgentTarball } from '../core/input-checks.ts';
import { ensureForeignExec } from './binfmt.ts';
import { type RunMode, runModeOf, startsContainer } from './run-mode.ts';

/** The project's top directory (rootfs.ts's): the distro folders, versions.yaml and the agent source are found from it. */
export const scriptDir = resolve(dirname(new URL(import.meta.url).pathname), '../..');

/** The checks of docs/rootfs.md §1, before anything touches the disk. */
function checkEnvironment(s: RootfsSettings): void {
  checkBuildVariant(s.buildVariant);
  if (s.kernelModulesDir && !(existsSync(s.kernelModulesDir) && statSync(s.kernelModulesDir).isDirectory())) {
    die(`KERNEL_MODULES_DIR=${s.kernelModulesDir} is not an existing directory: give the modules directory or unset it`);
  }
  if (s.dnfConf && !(existsSync(s.dnfConf) && statSync(s.dnfConf).isFile())) {
    die(`DNF_CONF=${s.dnfConf} is not an existing file: give a dnf config file or unset it`);
  }
  if (s.aptKeyring && !(existsSync(s.aptKeyring) && statSync(s.aptKeyring).isFile())) {
    die(`APT_KEYRING=${s.aptKeyring} is not an existing file: give the mirror's keyring file (.gpg) or unset it`);
  }
  if (!s.osbuilderVersion) die('need osbuilder version: give -o VERSION');
  checkVersionsFile(versionsFileOf(s, scriptDir), !!s.versionsFile);
}

/** The policy file and the guest tarballs, checked before the build starts (their entries against the tree again when unpacked). */
async function checkGuestInputs(s: RootfsSettings, existingTree?: string): Promise<void> {
  checkPolicyFile(s, scriptDir);
  await checkGuestTarballs(s, existingTree);
  if (s.agentTarball && !s.agentSourceBin) {
    checkAgentTarball(s.agentTarball);
    await checkTarball('AGENT_TARBALL', resolve(s.agentTarball), existingTree);
  }
}

/** The host distro ID from /etc/os-release (used without a DISTRO). */
export function hostDistroId(osRelease = '/etc/os-release'): string {
  const id = hostOsId(osRelease) || 'unknown';
  return id.includes('suse') ? 'suse' : id;
}

/** Settings of one builder or distro given for another: said by name rather than dropped. */
function warnIgnoredSettings(settings: RootfsSettings, distro: DistroConfig | undefined, mode: RunMode): void {
  if (!distro || mode.kind === 'container-inner') return;
  if (settings.repoUrlX86_64 && !distro.separateX86_64Mirror) warn(`REPO_URL_X86_64 is ignored: ${distro.name} has one mirror for every architecture, set REPO_URL`);
  if (settings.dnfConf && distro.buildRootfs) warn(`DNF_CONF is ignored: ${distro.name} is not built with dnf`);
  if (settings.aptKeyring && distro.buildRootfs !== DEBIAN_FAMILY.buildRootfs) warn(`APT_KEYRING is ignored: ${distro.name} is not built with mmdebstrap/debootstrap`);
  if (settings.dnfConf && !distro.buildRootfs && (settings.repoUrl || settings.distroRepo)) {
    warn(`REPO_URL and DISTRO_REPO are ignored: DNF_CONF=${settings.dnfConf} names the repositories`);
  }
}

/** A distro without a default release (upstream's Ubuntu) needs OS_VERSION; checked before any work. */
function requireOsVersion(settings: RootfsSettings, distro: DistroConfig): void {
  if (settings.osVersion || distro.osVersion) return;
  const example = distro.osVersionExample ? `, e.g. OS_VERSION=${distro.osVersionExample} as kata-deploy builds it` : '';
  const of = distro.releaseOf ?? distro.name;
  die(`OS_VERSION is not set and ${distro.name} has no default release: set OS_VERSION to the ${of} release to build${example}`);
}

/** A guest extension's tree (devkit) has no init and no agent: only its distro stage makes sense. */
function refuseExtensionAsRoot(distro: DistroConfig): void {
  if (distro.extensionOnly) die(`${distro.name} is a guest extension, not a guest root (no init, no agent): build it with ROOTFS_ONLY=yes, as kata-deploy does`);
}

/** REPO_URL, or REPO_URL_X86_64 on x86_64 for the distros with a separate x86_64 mirror, else the distro's default. */
function repoUrlFor(settings: RootfsSettings, distro: DistroConfig | undefined, arch: string): string {
  const x86Mirror = arch === 'x86_64' && distro?.separateX86_64Mirror ? settings.repoUrlX86_64 : '';
  return x86Mirror || settings.repoUrl || distro?.repoUrl || '';
}

export function contextFor(
  settings: RootfsSettings,
  distroName: string,
  distro: DistroConfig | undefined,
  rootfsDir: string,
  env: NodeJS.ProcessEnv,
  mode: RunMode = runModeOf(settings),
): RootfsContext {
  const arch = targetArch(settings);
  const inputs = { agentInit: settings.agentInit, seccomp: settings.seccomp, arch };
  const distroSettings = distro?.settings ? resolveSettings(distro.settings, env) : {};
  warnIgnoredSettings(settings, distro, mode);
  return withWorkDir(
    {
      settings,
      scriptDir,
      arch,
      libc: libcFor(arch, settings.libc || distro?.libc || ''),
      distroName,
      distro,
      distroSettings,
      configDir: join(scriptDir, 'rootfs', distroName),
      osName: distro?.name ?? distroName,
      osVersion: settings.osVersion || distro?.osVersion || '',
      packages: distro ? distro.packages(inputs) : [],
      extraPackages: splitWords(settings.extraPkgs),
      repoUrl: repoUrlFor(settings, distro, arch),
      rootfsDir,
    },
    rootfsDir,
  );
}

/**
 * Populate the rootfs with the distro, on the host or in a build container;
 * `agent`: the setup, when it runs in the container too, and `trees` the
 * distro-tree cache it uses there; `layers`: where an AGENT_INIT=no build on
 * the host finds and keeps the AGENT_INIT=yes tree it is built over.
 */
export async function buildRootfsDistro(
  ctx: RootfsContext, agent?: AgentSource, mode: RunMode = runModeOf(ctx.settings), trees?: StageTreeCache, layers?: LayerStore,
): Promise<void> {
  const distro = ctx.distro!;
  if (distro.archExcludeList?.includes(ctx.arch)) die(`${ctx.distroName} cannot be built for ${ctx.arch}: pick another distro`);
  fx.mkdir(ctx.workDir, { recursive: true });
  if (startsContainer(mode)) {
    await runContainerStage(ctx, agent, trees);
    return;
  }
  const layer = initLayerOf(ctx);
  if (layer && (await distro.buildRootfsOver!.usable(ctx))) await buildOverInitLayer(ctx, layer, layers);
  else await (distro.buildRootfs ?? buildDnfRootfs)(ctx);
}

/**
 * Where a build happens. Host builds happen in a hidden sibling of ROOTFS_DIR
 * renamed into place when complete; with BUILD_IN_RAM, in a RAM stage first
 * that is then copied to the sibling. A container build stages on the host
 * too (the sibling is mounted as /rootfs); inside, the mount itself is the
 * target. A plan names ROOTFS_DIR itself, so that it reads the same every time.
 */
interface Staging {
  sibling?: string;
  ram?: string;
}

const siblingPrefix = (rootfsDir: string) => `.${basename(rootfsDir)}.partial-`;
/** One name for every build's RAM stage, so that any dead run's stage is swept, whatever its ROOTFS_DIR. */
const RAM_STAGE_PREFIX = 'osbuilder-rootfs-';

function stagingFor(ctx: RootfsContext, mode: RunMode, inRam: boolean): Staging {
  if (mode.kind === 'container-inner' || mode.plan) return {};
  const sibling = join(dirname(ctx.rootfsDir), `${siblingPrefix(ctx.rootfsDir)}${process.pid}`);
  const ramParent = startsContainer(mode) || !inRam ? undefined : ramStagingParent(ctx.settings.buildInRam);
  return { sibling, ...(ramParent ? { ram: join(ramParent, `${RAM_STAGE_PREFIX}${process.pid}`) } : {}) };
}

/** The distro-tree cache of a build (lib/rootfs/tree-cache.ts) and why it builds. */
export interface DistroCache {
  trees?: TreeCache;
  /** The distro stage's key; undefined: the tree is not cached. */
  key?: string;
  /** The key of the AGENT_INIT=yes tree an AGENT_INIT=no build is made over (init-layer.ts). */
  layerKey?: string;
  decision?: CacheDecision;
  /** In a non-root caller's build container: the entry dir to fill (the cache itself is read-only there). */
  newEntry?: string;
  /** There, the entry dir of the AGENT_INIT=yes tree (layerKey). */
  newLayerEntry?: string;
}

/** The cache is a speed-up: a build goes on without it (a full disk, a read-only cache dir). */
async function orWarn<T>(trees: TreeCache, what: () => Promise<T>): Promise<T | undefined> {
  try {
    return await what();
  } catch (e) {
    warn(`could not keep the distro tree in ${trees.dir} (${errorMessage(e).split('\n')[0]}): the build goes on; set DISTRO_CACHE_DIR=no to stop trying`);
    return undefined;
  }
}

/** The cache as the AGENT_INIT=yes layer's store; none without a layer key, and -f builds the layer anew. */
function layerStoreOf(cache: DistroCache, distro: string, force: boolean): LayerStore | undefined {
  const { trees, layerKey, newEntry, newLayerEntry } = cache;
  // In the build container the layer is kept only where the caller gave an entry dir for it.
  if (!trees || !layerKey || (newEntry && !newLayerEntry)) return undefined;
  return {
    restore: async (dir) => !force && hasEntry(trees, layerKey) && (await restoreTree(trees, layerKey, dir)),
    keep: (dir) => keepTree({ trees, key: layerKey, newEntry: newLayerEntry }, distro, dir),
  };
}

/** Keep the distro-stage tree: in the cache, or (in a non-root caller's container) in the entry dir the caller commits. */
async function keepTree(cache: DistroCache, distro: string, tree: string): Promise<void> {
  const { trees, key, newEntry } = cache;
  if (!trees || !key) return;
  if (!newEntry) return void (await orWarn(trees, () => storeTree(trees, key, distro, tree)));
  await orWarn(trees, async () => {
    await fillEntry(newEntry, distro, tree);
    // The caller outside marks the entry used: its record is the caller's.
    giveToCaller(['entry.json', 'listing', 'stamps'].map((f) => join(newEntry, f)));
  });
}

/**
 * A non-root caller's whole build, in the build container: the distro tree
 * is taken from the cache there, or kept in a new entry that is committed here.
 */
async function buildInContainer(work: RootfsContext, agent: AgentSource | undefined, cache: DistroCache, cached: boolean, mode: RunMode): Promise<void> {
  const { trees, key, layerKey } = cache;
  const entry = trees && key && (await orWarn(trees, () => beginEntry(trees)));
  if (!trees || !key || !entry) return buildRootfsDistro(work, agent, mode);
  // The AGENT_INIT=yes tree the container may build first gets an entry dir of its own.
  const layerEntry = !cached && layerKey ? await orWarn(trees, () => beginEntry(trees, 'layer')) : undefined;
  try {
    if (cached) touchEntry(trees, key);
    const layer = layerKey && layerEntry ? { key: layerKey, newEntry: layerEntry.tmp } : undefined;
    await buildRootfsDistro(work, agent, mode, { cache: trees, key, newEntry: entry.tmp, layer });
    if (layer && hasEntry(trees, layer.key)) touchEntry(trees, layer.key); // when the container took it from the cache
    for (const [k, tmp] of [[layerKey, layerEntry?.tmp], [key, entry.tmp]]) {
      if (k && tmp && entryFilled(tmp)) await orWarn(trees, () => commitEntry(trees, k, tmp));
    }
  } finally {
    for (const e of [entry, layerEntry]) {
      if (!e) continue;
      await removeTree(e.tmp);
      e.dropCleanup();
    }
  }
}

/** The distro-tree cache inside a non-root caller's build container (DISTRO_STAGE_KEY and DISTRO_LAYER_KEY set by the outside). */
function containerTreeCache(settings: RootfsSettings): DistroCache {
  if (!settings.distroStageKey) return {};
  const trees = treeCacheFor(settings.distroCacheDir, settings.distroCacheEntries);
  const layer = settings.distroLayerKey ? { layerKey: settings.distroLayerKey, newLayerEntry: CONTAINER_NEW_LAYER_DIR } : {};
  return { trees, key: settings.distroStageKey, newEntry: CONTAINER_NEW_ENTRY_DIR, ...layer };
}

/**
 * Build the distro tree; `replace`: an existing tree of ours (with a manifest) is swapped out. False on a tolerated failure.
 * With a cached tree for the distro stage's inputs, only the setup runs, on a copy of it.
 */
export async function buildDistro(
  ctx: RootfsContext, agent: AgentSource | undefined, replace = false, cache: DistroCache = {}, mode: RunMode = runModeOf(ctx.settings),
): Promise<boolean> {
  if (existsSync(ctx.rootfsDir) && !isEmptyDir(ctx.rootfsDir) && mode.kind !== 'container-inner' && !replace) {
    die(`ROOTFS_DIR ${ctx.rootfsDir} exists and is not empty: remove it or give another directory with -r`);
  }
  const { trees, key } = cache;
  const cached = !!(trees && key && !ctx.settings.forceRebuild && hasEntry(trees, key));
  // A setup on a copied tree is a few file writes: no RAM stage for it.
  const { sibling, ram } = stagingFor(ctx, mode, !cached);
  // The RAM stage is copied to the sibling at the end: its parent must be there (a build on the disk makes it first thing).
  if (sibling) fx.mkdir(dirname(sibling), { recursive: true });
  if (sibling) await removeStaleTemps(dirname(sibling), siblingPrefix(ctx.rootfsDir));
  if (ram) await removeStaleTemps(dirname(ram), RAM_STAGE_PREFIX);
  const removeStages = async () => {
    for (const dir of [ram, sibling]) if (dir) await removeTree(dir);
  };
  const dropCleanup = sibling ? onCleanup(removeStages) : () => {};
  try {
    if (!mode.plan && mode.kind !== 'container-inner') info(buildLine(ctx.rootfsDir, cache.decision, cached));
    const setupInContainer = mode.kind === 'container-whole';
    // In the build container the tree is restored into the /rootfs mount itself.
    const restoreTo = sibling ?? (mode.kind === 'container-inner' ? ctx.rootfsDir : undefined);
    const fromCache = cached && !setupInContainer && restoreTo !== undefined && (await restoreTree(trees!, key!, restoreTo));
    const work = withWorkDir(ctx, fromCache ? restoreTo! : ram ?? sibling ?? ctx.rootfsDir);
    if (setupInContainer) await buildInContainer(work, agent, cache, cached, mode);
    else if (!fromCache) {
      await buildRootfsDistro(work, undefined, mode, undefined, layerStoreOf(cache, ctx.distroName, ctx.settings.forceRebuild));
      await keepTree(cache, ctx.distroName, work.workDir);
    }
    if (agent && !setupInContainer) await setupRootfs(work, agent);
    if (ram && !fromCache) {
      await step(`Copying the tree from RAM to ${ctx.rootfsDir}`, () => $`cp -a ${ram} ${sibling}`);
      await removeTree(ram);
    }
    if (sibling) await moveIntoPlace(sibling, ctx.rootfsDir);
    dropCleanup();
    return true;
  } catch (e) {
    await removeStages();
    dropCleanup();
    if (!ctx.settings.gracefulExit || !ctx.distro?.buildCanFail || mode.kind === 'container-inner') throw e;
    info(`Detected a build error, but ${ctx.distroName} is allowed to fail (BUILD_CAN_FAIL specified), so exiting successfully`);
    fx.write(failMarker(ctx), '');
    return false;
  }
}

/**
 * Overlay mode: the minimal tree and the setup go into a copy of ROOTFS_DIR,
 * swapped in when complete, so that a failed run leaves the tree as it was.
 * A tree that is (or holds) a mount point cannot be swapped: it is set up in place.
 */
async function setupOverlay(ctx: RootfsContext, agent: AgentSource | undefined, mode: RunMode = runModeOf(ctx.settings)): Promise<void> {
  const setup = async (work: RootfsContext) => {
    prepareOverlay(work.workDir);
    if (agent) await setupRootfs(work, agent);
  };
  const real = realPathOf(ctx.rootfsDir);
  if (mode.plan || mountsBelow(real).length) {
    if (!mode.plan) warn(`${ctx.rootfsDir} is or holds a mount point: set up in place, so a failed run may leave it part-changed`);
    await setup(ctx);
    return;
  }
  const sibling = join(dirname(real), `${siblingPrefix(real)}${process.pid}`);
  await removeStaleTemps(dirname(sibling), siblingPrefix(real));
  const dropCleanup = onCleanup(() => removeTree(sibling));
  try {
    const copy = await step(`Copying ${ctx.rootfsDir} to set it up beside it`, () => $({ nothrow: true })`cp -a ${real} ${sibling}`);
    if (copy.exitCode !== 0) die(`cannot copy ROOTFS_DIR ${ctx.rootfsDir} to ${sibling} (${failureSummary(copy)}): overlay mode sets up a copy beside the tree; free space or make ${dirname(real)} writable`);
    await setup(withWorkDir(ctx, sibling));
    await moveIntoPlace(sibling, real);
  } catch (e) {
    // The user knows the tree by its name, not by its staging copy's.
    if (e instanceof BuildError) e.message = e.message.replaceAll(sibling, ctx.rootfsDir);
    throw e;
  } finally {
    await removeTree(sibling);
    dropCleanup();
  }
}

/** Build the rootfs of `distroName`, or (empty) set up the existing tree at ROOTFS_DIR: rootfs.ts after its command line. */
export async function runRootfsBuild(settings: RootfsSettings, distroName: string, env: NodeJS.ProcessEnv): Promise<void> {
  const mode = runModeOf(settings);
  const arch = targetArch(settings);
  // A non-root caller without an engine: this script again, as root of a user namespace (lib/core/userns.ts).
  if (!mode.plan && mode.kind === 'host' && wantsRootless(undefined, env)) await rerunRootless('rootfs.ts', env);
  checkEnvironment(settings);
  // ROOTFS_ONLY (upstream's name) and STAGE_PREPARE_ROOTFS (the container's inner stage): the distro tree alone.
  const distroOnly = settings.stagePrepareRootfs || settings.rootfsOnly === 'yes';
  // An existing tree (no DISTRO) is checked with its own symlinks, before the overlay touches it.
  const existingTree = distroName ? undefined : settings.rootfsDir && existsSync(settings.rootfsDir) ? settings.rootfsDir : undefined;
  if (distroName && !distroOnly) refuseExtensionAsRoot(await loadDistro(distroName, arch));
  if (!distroOnly) await checkGuestInputs(settings, existingTree);
  if (mode.plan) startPlanMode();
  if (libcFor(arch, settings.libc) !== (settings.libc || 'musl')) warn(`Forcing LIBC=gnu because ${arch} has no musl Rust target`);
  if (settings.rootfsOnly === 'yes') info('ROOTFS_ONLY set: skipping agent and systemd setup');
  const agent = distroOnly ? undefined : agentSourceOf(settings, scriptDir);
  if (agent?.kind === 'source' && mode.kind === 'container-whole' && !mode.plan) {
    die(`the agent source tree ${agent.dir} cannot be built in the build container (it has no Rust toolchain), where a non-root caller's setup runs: build the agent first and give AGENT_TARBALL or AGENT_SOURCE_BIN, or run as root`);
  }
  if (distroName) {
    const distro = await loadDistro(distroName, arch);
    requireOsVersion(settings, distro);
    const rootfsDir = checkRootfsDir(settings.rootfsDir || join(scriptDir, `rootfs-${distro.name}`));
    const ctx = contextFor(settings, distroName, distro, rootfsDir, env, mode);
    // The build cache (lib/rootfs/cache.ts); a plan and the container's inner stage always build.
    const cache = mode.plan || mode.kind === 'container-inner' ? undefined : await checkRootfsCache(ctx, agent, settings.forceRebuild);
    if (cache?.upToDate) return;
    // What a container build leaves is root's: a non-root caller removes it (an old tree, a failed build's, a cached one) through a container.
    if (mode.kind === 'container-whole' && !mode.plan) useContainerRemoval(mode.engine, [imageName(distroName)], settings.dockerRuntime);
    const trees = cache ? treeCacheFor(settings.distroCacheDir, settings.distroCacheEntries) : undefined;
    const layer = initLayerOf(ctx);
    const layerKey = cache && layer ? distroStageKey(withPackages(cache.manifest, layer.packages)) : undefined;
    const distroCache = mode.kind === 'container-inner' ? containerTreeCache(settings) : { trees, key: cache && distroStageKey(cache.manifest), layerKey, decision: cache };
    // Container builds run the same foreign binaries through the host kernel's handler.
    if (!mode.plan && mode.kind !== 'container-inner') await ensureForeignExec(arch);
    if ((await buildDistro(ctx, agent, cache?.replaceable, distroCache, mode)) && cache) storeManifest(rootfsDir, cache.manifest);
    return;
  }
  if (!settings.rootfsDir || !existsSync(settings.rootfsDir) || !statSync(settings.rootfsDir).isDirectory()) {
    die(`Invalid rootfs directory: '${settings.rootfsDir}': give an existing directory with -r DIR, or a DISTRO`);
  }
  const rootfsDir = checkRootfsDir(settings.rootfsDir);
  const hostId = hostDistroId();
  const distro = listDistros().includes(hostId) ? await loadDistro(hostId, arch) : undefined;
  // The host's distro config only supplies file locations (chrony): nothing was installed from it.
  const ctx = { ...contextFor(settings, hostId, distro, rootfsDir, env, mode), packages: [], osVersion: settings.osVersion };
  await setupOverlay(ctx, agent, mode);
}

