// The rootfs build cache's manifest: every input that decides what a built
// rootfs contains, as a flat map of input name → value (or content hash).
// Stored beside the rootfs as .<name>.manifest.json; a rebuild is skipped when
// the current inputs equal the stored ones. The inputs fall in two stages:
// the distro stage (what the package manager installs) and the setup stage
// (everything applied on top); the distro stage's inputs key the cached
// distro tree (tree-cache.ts). Pure: values in, values out.
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

export const MANIFEST_FORMAT = 2;

/** An input whose value could not be pinned down (e.g. an agent tree outside git): never equal. */
export const UNKNOWN = null;

export interface RootfsManifest {
  format: typeof MANIFEST_FORMAT;
  inputs: Record<string, string | null>;
  /** Names of the inputs of the distro stage; every other input is the setup stage's. */
  distroStage: string[];
  /** The name of the rootfs directory it was stored for: what proves a directory is ours to replace. */
  rootfs?: string;
}

/** The facts rootfs.ts gathers (settings resolved, files hashed). */
export interface RootfsInputs {
  distro: string;
  osVersion: string;
  repoUrl: string;
  packages: string[];
  extraPackages: string[];
  agentInit: string;
  seccomp: string;
  libc: string;
  arch: string;
  deleteUnits: boolean;
  agentBin: string;
  osbuilderVersion: string;
  sourceDateEpoch: number | undefined;
  distroRepo: boolean;
  pkgManager: string;
  /** sha256 of DNF_CONF's content, '' without one. */
  dnfConf: string;
  /** sha256 of APT_KEYRING's content, '' without one. */
  aptKeyring: string;
  /** host, docker or podman, with the build container's registry. */
  buildIn: string;
  /** The distro's own settings by environment variable name (e.g. DEBIAN_BOOTSTRAP). */
  distroSettings: Record<string, string>;
  /** Content hash of KERNEL_MODULES_DIR, '' without one. */
  kernelModules: string;
  /** Input name (AGENT_SOURCE_BIN, AGENT_TARBALL, agent source) → its hash or commit. */
  agent: Record<string, string | null>;
  /** AGENT_POLICY (and its file's hash), CONFIDENTIAL_GUEST, each guest tarball's hash; empty without an agent. */
  guest?: Record<string, string>;
  /** Builder source files of the setup stage (relative to the project) → sha256. */
  builderFiles: Record<string, string>;
  /** Source files of the distro stage: the distro's folder and its builder (relative to the project) → sha256. */
  distroFiles: Record<string, string>;
}

/** Settings that decide what the package manager installs (AGENT_INIT and LIBC act through `packages`). */
const DISTRO_STAGE_SETTINGS = [
  'distro', 'OS_VERSION', 'REPO_URL', 'packages', 'EXTRA_PKGS', 'SECCOMP', 'ARCH', 'DISTRO_REPO', 'PKG_MANAGER', 'DNF_CONF', 'APT_KEYRING',
  'USE_DOCKER/USE_PODMAN',
];

export const BUILDER_FILE_PREFIX = 'source ';

export function manifestFor(i: RootfsInputs): RootfsManifest {
  const inputs: Record<string, string | null> = {
    distro: i.distro,
    OS_VERSION: i.osVersion,
    REPO_URL: i.repoUrl,
    packages: packagesInput(i.packages),
    EXTRA_PKGS: [...i.extraPackages].sort().join(' '),
    AGENT_INIT: i.agentInit,
    SECCOMP: i.seccomp,
    LIBC: i.libc,
    ARCH: i.arch,
    '-d': String(i.deleteUnits),
    AGENT_BIN: i.agentBin,
    OSBUILDER_VERSION: i.osbuilderVersion,
    SOURCE_DATE_EPOCH: i.sourceDateEpoch === undefined ? '' : String(i.sourceDateEpoch),
    DISTRO_REPO: String(i.distroRepo),
    PKG_MANAGER: i.pkgManager,
    DNF_CONF: i.dnfConf,
    APT_KEYRING: i.aptKeyring,
    'USE_DOCKER/USE_PODMAN': i.buildIn,
    KERNEL_MODULES_DIR: i.kernelModules,
    ...i.distroSettings,
    ...i.agent,
    ...i.guest,
  };
  const distroStage = [...DISTRO_STAGE_SETTINGS, ...Object.keys(i.distroSettings)];
  for (const [file, hash] of Object.entries(i.builderFiles)) inputs[`${BUILDER_FILE_PREFIX}${file}`] = hash;
  for (const [file, hash] of Object.entries(i.distroFiles)) {
    inputs[`${BUILDER_FILE_PREFIX}${file}`] = hash;
    distroStage.push(`${BUILDER_FILE_PREFIX}${file}`);
  }
  return { format: MANIFEST_FORMAT, inputs: sortedKeys(inputs), distroStage: [...new Set(distroStage)].sort() };
}

function packagesInput(packages: string[]): string {
  return [...packages].sort().join(' ');
}

/** The manifest of the same build with another package list (the AGENT_INIT=yes layer's, lib/rootfs/init-layer.ts). */
export function withPackages(m: RootfsManifest, packages: string[]): RootfsManifest {
  return { ...m, inputs: { ...m.inputs, packages: packagesInput(packages) } };
}

/** The distro stage's inputs alone. */
export function distroStageInputs(m: RootfsManifest): Record<string, string | null> {
  return Object.fromEntries(m.distroStage.map((name) => [name, m.inputs[name] ?? null]));
}

/**
 * The key of the distro tree these inputs give: a hash of the distro stage's
 * inputs, or undefined when one of them is UNKNOWN (such a tree is never reused).
 */
export function distroStageKey(m: RootfsManifest): string | undefined {
  const inputs = distroStageInputs(m);
  if (Object.values(inputs).some((v) => v === UNKNOWN)) return undefined;
  return createHash('sha256').update(JSON.stringify(sortedKeys(inputs))).digest('hex').slice(0, 32);
}

/** The changed inputs of the distro stage among `changed`. */
export function distroStageChanges(m: RootfsManifest, changed: string[]): string[] {
  return changed.filter((name) => m.distroStage.includes(name));
}

function sortedKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Names of the inputs that differ (changed, added or dropped); an UNKNOWN value always differs. */
export function changedInputs(stored: RootfsManifest, current: RootfsManifest): string[] {
  const names = [...new Set([...Object.keys(stored.inputs), ...Object.keys(current.inputs)])].sort();
  return names.filter((n) => {
    const [a, b] = [stored.inputs[n], current.inputs[n]];
    return a === undefined || b === undefined || a === UNKNOWN || b === UNKNOWN || a !== b;
  });
}

/** "EXTRA_PKGS, AGENT_SOURCE_BIN and 3 more", for one INFO line. */
export function describeInputs(names: string[], max = 6): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

export function manifestText(m: RootfsManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** The stored manifest, or undefined when the text is not one of ours (missing, damaged, other format). */
export function parseManifest(text: string): RootfsManifest | undefined {
  try {
    const m = JSON.parse(text) as Partial<RootfsManifest>;
    if (m.format !== MANIFEST_FORMAT || typeof m.inputs !== 'object' || m.inputs === null) return undefined;
    if (!Array.isArray(m.distroStage) || !m.distroStage.every((n) => typeof n === 'string')) return undefined;
    if (m.rootfs !== undefined && typeof m.rootfs !== 'string') return undefined;
    const valid = Object.values(m.inputs).every((v) => v === null || typeof v === 'string');
    return valid ? (m as RootfsManifest) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why the manifest text `text` (undefined: unreadable) does not prove that
 * rootfsDir is a tree we built, or undefined when it does: it must parse and
 * name the directory. Anything else may sit beside a user's own directory.
 */
export function notOursReason(text: string | undefined, rootfsDir: string): string | undefined {
  if (text === undefined) return 'it cannot be read';
  if (text.trim() === '') return 'it is empty';
  const m = parseManifest(text);
  if (!m) return 'it is not a manifest of this osbuilder-ts (damaged, or of another format)';
  if (m.rootfs !== basename(rootfsDir)) return m.rootfs === undefined ? 'it names no directory' : `it names ${JSON.stringify(m.rootfs)}`;
  return undefined;
}

/** <parent>/.<name>.manifest.json: beside the rootfs, so it never ends up in an image or initrd. */
export function manifestPath(rootfsDir: string): string {
  return join(dirname(rootfsDir), `.${basename(rootfsDir)}.manifest.json`);
}
