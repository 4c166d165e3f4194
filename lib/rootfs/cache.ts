// The rootfs build cache: gather the current inputs (settings, file and tree
// hashes, the agent's identity), compare them with the manifest stored by the
// last build, and swap a rebuilt tree in place of the old one. The manifest
// logic itself is pure, in manifest.ts.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { writeFileAtomic } from '../core/atomic-write.ts';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { AgentSource } from './agent.ts';
import { isConfidentialGuest } from './confidential.ts';
import { guestTarballPaths } from './guest-tarballs.ts';
import { policyFileOf } from './policy.ts';
import { onCleanup } from '../core/cli.ts';
import type { RootfsContext } from './types.ts';
import { engineFor } from '../core/engine-choice.ts';
import { $ } from '../core/exec.ts';
import { sha256OfFile } from '../core/file-read.ts';
import { die, info } from '../core/log.ts';
import { isEmptyDir, removeTree } from '../core/safe-paths.ts';
import { removeStaleTemps } from '../core/stale-temps.ts';
import {
  UNKNOWN, changedInputs, describeInputs, distroStageChanges, manifestFor, manifestPath, manifestText, notOursReason, parseManifest, type RootfsManifest,
} from './manifest.ts';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Project .ts files reachable from the entries through relative static imports (paths relative to root). */
export function sourceClosure(root: string, ...entries: string[]): string[] {
  const seen = new Set<string>();
  const visit = (rel: string) => {
    // Import-like text inside strings may name no file: skip those.
    if (seen.has(rel) || !existsSync(join(root, rel))) return;
    seen.add(rel);
    const src = readFileSync(join(root, rel), 'utf8');
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+\.ts)'/g)) {
      visit(relative(root, resolve(root, dirname(rel), m[1]!)));
    }
  };
  entries.forEach(visit);
  return [...seen].sort();
}

/** sha256 of a tree: every path, type, mode, link target and file content, in a fixed order. */
export function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    const path = join(dir, rel);
    const st = lstatSync(path);
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(readlinkSync(path));
    else if (st.isFile()) h.update(sha256OfFile(path));
    else if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(rel, name));
    h.update('\0');
  };
  walk('.');
  return h.digest('hex');
}

/** The agent source tree's commit (AGENT_VERSION's when given) and, when it has local changes, their hash. */
export async function agentTreeIdentity(dir: string, ref: string): Promise<string | null> {
  const git = (...args: string[]) => $({ cwd: dir, nothrow: true })`git ${args}`;
  const commit = await git('rev-parse', '--verify', `${ref || 'HEAD'}^{commit}`);
  if (commit.exitCode !== 0) return UNKNOWN; // not a git checkout: nothing tells whether it changed
  const status = await git('status', '--porcelain');
  if (!status.stdout.trim()) return commit.stdout.trim();
  const diff = await git('diff', 'HEAD', '--binary');
  const untracked = (await git('ls-files', '--others', '--exclude-standard', '-z')).stdout.split('\0').filter(Boolean);
  const local = sha256(diff.stdout + untracked.map((f) => `${f}\0${sha256OfFile(join(dir, f))}`).join('\0'));
  return `${commit.stdout.trim()}+dirty:${local}`;
}

async function agentInputs(agent: AgentSource | undefined, ctx: RootfsContext): Promise<Record<string, string | null>> {
  if (!agent) return { agent: 'none (ROOTFS_ONLY or STAGE_PREPARE_ROOTFS)' };
  if (agent.kind === 'binary') return { AGENT_SOURCE_BIN: sha256OfFile(agent.path) };
  if (agent.kind === 'tarball') return { AGENT_TARBALL: sha256OfFile(agent.path) };
  return { 'agent source': await agentTreeIdentity(agent.dir, ctx.settings.agentVersion) };
}

/** The policy, confidential tweaks and guest tarballs setupRootfs adds. */
function guestInputs(ctx: RootfsContext): Record<string, string> {
  const s = ctx.settings;
  return {
    AGENT_POLICY: s.agentPolicy,
    ...(s.agentPolicy === 'yes' ? { AGENT_POLICY_FILE: sha256OfFile(policyFileOf(s, ctx.scriptDir)) } : {}),
    CONFIDENTIAL_GUEST: isConfidentialGuest(s) ? 'yes' : 'no',
    ...Object.fromEntries(guestTarballPaths(s).map(([variable, path]) => [variable, sha256OfFile(path)])),
  };
}

/** Source files (relative to the project) → sha256. */
function hashed(root: string, files: string[]): Record<string, string> {
  return Object.fromEntries([...files].sort().map((f) => [f, sha256OfFile(join(root, f))]));
}

/**
 * The distro stage's own sources: the distro's folder, its builder (the
 * config's imports, or lib's dnf builder), the build over the AGENT_INIT=yes
 * tree and, for container builds, the container stage. The rest of rootfs.ts's sources belong to the setup stage.
 */
export function distroStageFiles(ctx: RootfsContext, inContainer: boolean): string[] {
  const distroDir = relative(ctx.scriptDir, ctx.configDir);
  const folder = existsSync(ctx.configDir)
    ? readdirSync(ctx.configDir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(distroDir, e.name))
    : [];
  const builders = [join(distroDir, 'config.ts'), 'lib/rootfs/dnf.ts', 'lib/rootfs/init-layer.ts', ...(inContainer ? ['lib/container/rootfs-stage.ts'] : [])];
  return [...new Set([...sourceClosure(ctx.scriptDir, ...builders), ...folder])].sort();
}

/** The manifest of what this build would be made from. */
export async function currentManifest(ctx: RootfsContext, agent: AgentSource | undefined): Promise<RootfsManifest> {
  const s = ctx.settings;
  const engine = engineFor(s);
  const distroFiles = distroStageFiles(ctx, !!engine);
  const setupFiles = sourceClosure(ctx.scriptDir, 'rootfs.ts').filter((f) => !distroFiles.includes(f));
  const distroSettings = {
    ...Object.fromEntries(Object.entries(ctx.distroSettings).map(([key, value]) => [ctx.distro?.settings?.[key]?.env ?? key, String(value)])),
    ...ctx.distro?.stageInputs?.(ctx),
  };
  return manifestFor({
    distro: ctx.distroName,
    osVersion: ctx.osVersion,
    repoUrl: ctx.repoUrl,
    packages: ctx.packages,
    extraPackages: ctx.extraPackages,
    agentInit: s.agentInit,
    seccomp: s.seccomp,
    libc: ctx.libc,
    arch: ctx.arch,
    deleteUnits: s.deleteUnits,
    agentBin: s.agentBin,
    osbuilderVersion: s.osbuilderVersion,
    sourceDateEpoch: s.sourceDateEpoch,
    distroRepo: s.distroRepo,
    pkgManager: s.pkgManager,
    dnfConf: s.dnfConf ? sha256OfFile(s.dnfConf) : '',
    aptKeyring: s.aptKeyring ? sha256OfFile(s.aptKeyring) : '',
    buildIn: engine ? `${engine} ${s.imageRegistry}`.trim() : 'host',
    distroSettings,
    kernelModules: s.kernelModulesDir ? treeHash(s.kernelModulesDir) : '',
    agent: await agentInputs(agent, ctx),
    guest: agent ? guestInputs(ctx) : {},
    builderFiles: hashed(ctx.scriptDir, setupFiles),
    distroFiles: hashed(ctx.scriptDir, distroFiles),
  });
}

export interface CacheDecision {
  /** The existing rootfs was built from the same inputs: nothing to do. */
  upToDate: boolean;
  /** The existing rootfs has a manifest of ours, so a rebuild may replace it. */
  replaceable: boolean;
  manifest: RootfsManifest;
  /** Why it is rebuilt: the changed inputs, or undefined when there is no rootfs of ours yet. */
  changed?: string[];
  force: boolean;
}

function readableText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Compare the current inputs with the stored manifest; an up-to-date rootfs is announced here, a rebuild by the build. */
export async function checkRootfsCache(ctx: RootfsContext, agent: AgentSource | undefined, force: boolean): Promise<CacheDecision> {
  const start = performance.now();
  const manifest = await currentManifest(ctx, agent);
  const path = manifestPath(ctx.rootfsDir);
  const owned = existsSync(path) && !isEmptyDir(ctx.rootfsDir);
  if (!owned) return { upToDate: false, replaceable: false, manifest, force };
  const text = readableText(path);
  const notOurs = notOursReason(text, ctx.rootfsDir);
  if (notOurs) {
    die(`ROOTFS_DIR ${ctx.rootfsDir} exists and is not empty, and its manifest ${path} does not show a tree osbuilder-ts built there (${notOurs}): it is left alone; remove both or give another directory with -r`);
  }
  const stored = parseManifest(text!)!;
  const changed = changedInputs(stored, manifest);
  const upToDate = !force && changed.length === 0;
  if (upToDate) {
    const took = ((performance.now() - start) / 1000).toFixed(2);
    info(`Rootfs ${ctx.rootfsDir} is up to date (same inputs as its manifest ${path}, checked in ${took} s): skipping the build; -f or FORCE_REBUILD=yes rebuilds it`);
  }
  return { upToDate, replaceable: true, manifest, changed, force };
}

/** The INFO line of a build: which stages run and which inputs caused it. */
export function buildLine(dir: string, decision: CacheDecision | undefined, fromCache: boolean): string {
  const stage = fromCache ? 'setup stage only (distro tree from the cache)' : 'distro stage and setup';
  if (!decision?.changed) return `Building rootfs ${dir}: ${stage}`;
  if (decision.force) return `Rebuilding rootfs ${dir}, ${stage}: forced (-f or FORCE_REBUILD=yes)`;
  // The distro stage's own changes first: they are why it runs.
  const distro = distroStageChanges(decision.manifest, decision.changed);
  const names = [...distro, ...decision.changed.filter((n) => !distro.includes(n))];
  return `Rebuilding rootfs ${dir}, ${stage}: changed input(s): ${describeInputs(names)}`;
}

/**
 * Move a completed tree to rootfsDir. An old tree of ours is renamed aside
 * first and removed after; its manifest goes before the swap, so a tree is
 * never paired with another build's manifest.
 */
export async function moveIntoPlace(staged: string, rootfsDir: string): Promise<void> {
  const manifest = manifestPath(rootfsDir);
  if (existsSync(manifest)) fx.unlink(manifest);
  if (isEmptyDir(rootfsDir)) {
    if (existsSync(rootfsDir)) fx.rmdir(rootfsDir);
    fx.rename(staged, rootfsDir);
    return;
  }
  const asidePrefix = `.${basename(rootfsDir)}.old-`;
  await removeStaleTemps(dirname(rootfsDir), asidePrefix);
  const aside = join(dirname(rootfsDir), `${asidePrefix}${process.pid}`);
  const dropCleanup = onCleanup(() => removeTree(aside));
  fx.rename(rootfsDir, aside);
  fx.rename(staged, rootfsDir);
  await removeTree(aside);
  dropCleanup();
}

/** Record the inputs of a completed build beside it (temp + rename), and drop the manifests beside it whose trees are gone. */
export function storeManifest(rootfsDir: string, manifest: RootfsManifest): void {
  const path = manifestPath(rootfsDir);
  writeFileAtomic(path, manifestText({ ...manifest, rootfs: basename(rootfsDir) }));
  dropOrphanManifests(dirname(rootfsDir));
}

const MANIFEST_NAME = /^\.(.+)\.manifest\.json$/;

/**
 * Remove, in `parent`, the manifests of ours whose rootfs directory no
 * longer exists: a tree removed by hand (kata-deploy's devkit build removes
 * its `mktemp -d` tree with `rm -rf`) would otherwise leave its hidden
 * manifest behind for good. A file is removed only when it parses as our
 * manifest and names that very directory.
 */
export function dropOrphanManifests(parent: string): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const dropped: string[] = [];
  for (const name of names) {
    const tree = MANIFEST_NAME.exec(name)?.[1];
    if (!tree || lstatSync(join(parent, tree), { throwIfNoEntry: false })) continue;
    const file = join(parent, name);
    if (!lstatSync(file, { throwIfNoEntry: false })?.isFile()) continue;
    if (notOursReason(readableText(file), join(parent, tree)) !== undefined) continue;
    fx.remove(file, { force: true });
    dropped.push(name);
  }
  if (dropped.length) info(`Removed ${dropped.length} manifest(s) of rootfs directories that are gone, in ${parent}: ${dropped.join(', ')}`);
  return dropped;
}
