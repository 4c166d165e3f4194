// The summary file var/lib/osbuilder/osbuilder.yaml (format 0.0.2): what
// the rootfs was built from, readable later from an image or initrd.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RootfsContext } from './types.ts';
import { info } from '../core/log.ts';
import { guestTree } from '../core/guest-tree.ts';

export const SUMMARY_PATH = 'var/lib/osbuilder/osbuilder.yaml';
export const SUMMARY_FORMAT_VERSION = '0.0.2';
export const OSBUILDER_URL = 'https://github.com/kata-containers/kata-containers/tools/osbuilder';
export const AGENT_URL = 'https://github.com/kata-containers/kata-containers';

export interface Summary {
  osbuilderVersion: string;
  /** Seconds since 1970, UTC, with fraction. */
  creationTime: number;
  architecture: string;
  distroName: string;
  distroVersion: string;
  packages: string[];
  extraPackages: string[];
  agentName: string;
  agentVersion: string;
  agentIsInit: 'yes' | 'no';
}

/** `date -u '+%Y-%m-%dT%T.%N%zZ'` of upstream, e.g. 2024-01-02T03:04:05.000000000+0000Z. */
export function formatCreationTime(epochSeconds: number): string {
  const whole = Math.floor(epochSeconds);
  const nanos = Math.round((epochSeconds - whole) * 1e9);
  const iso = new Date(whole * 1000).toISOString().slice(0, 19);
  return `${iso}.${String(nanos).padStart(9, '0')}+0000Z`;
}

const sortedUnique = (xs: string[]) => [...new Set(xs)].sort();
const quoted = (s: string) => JSON.stringify(s);

export function summaryYaml(s: Summary): string {
  const list = (xs: string[]) => sortedUnique(xs).map((p) => `      - ${quoted(p)}\n`).join('');
  return (
    '---\n' +
    'osbuilder:\n' +
    `  url: ${quoted(OSBUILDER_URL)}\n` +
    `  version: ${quoted(s.osbuilderVersion)}\n` +
    `rootfs-creation-time: ${quoted(formatCreationTime(s.creationTime))}\n` +
    'description: "osbuilder rootfs"\n' +
    `file-format-version: ${quoted(SUMMARY_FORMAT_VERSION)}\n` +
    `architecture: ${quoted(s.architecture)}\n` +
    'base-distro:\n' +
    `  name: ${quoted(s.distroName)}\n` +
    `  version: ${quoted(s.distroVersion)}\n` +
    '  packages:\n' +
    '    default:\n' +
    list(s.packages) +
    '    extra:\n' +
    list(s.extraPackages) +
    'agent:\n' +
    `  url: ${quoted(AGENT_URL)}\n` +
    `  name: ${quoted(s.agentName)}\n` +
    `  version: ${quoted(s.agentVersion)}\n` +
    `  agent-is-init-daemon: ${quoted(s.agentIsInit)}\n`
  );
}

/** AGENT_VERSION when given, else the project's VERSION file, else "unknown". */
export function agentVersionOf(ctx: RootfsContext): string {
  if (ctx.settings.agentVersion) return ctx.settings.agentVersion;
  const file = join(ctx.scriptDir, 'VERSION');
  const version = existsSync(file)
    ? readFileSync(file, 'utf8').split('\n').find((l) => l.trim() && !l.startsWith('#'))?.trim()
    : undefined;
  return version || 'unknown';
}

export function summaryOf(ctx: RootfsContext, now = Date.now() / 1000): Summary {
  const epoch = ctx.settings.sourceDateEpoch;
  return {
    osbuilderVersion: ctx.settings.osbuilderVersion,
    creationTime: epoch ?? now,
    architecture: ctx.arch,
    distroName: ctx.osName,
    distroVersion: ctx.osVersion,
    packages: ctx.packages,
    extraPackages: ctx.extraPackages,
    agentName: ctx.settings.agentBin,
    agentVersion: agentVersionOf(ctx),
    agentIsInit: ctx.settings.agentInit,
  };
}

export function createSummaryFile(ctx: RootfsContext): void {
  guestTree(ctx.workDir).write(SUMMARY_PATH, summaryYaml(summaryOf(ctx)), { mode: 0o644 });
  info(`Created summary file '/${SUMMARY_PATH}' inside rootfs`);
}
