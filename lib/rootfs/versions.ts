// Kata's versions.yaml, read with a YAML library (upstream shells out to yq).
import { readTextFile } from '../core/file-read.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { RootfsContext } from './types.ts';
import { die } from '../core/log.ts';

export function parseVersions(text: string): unknown {
  return parse(text) as unknown;
}

/** Value at a dotted path (`languages.rust.meta.newest-version`), or '' when absent (yq's null). */
export function versionAt(doc: unknown, dottedPath: string): string {
  let node: unknown = doc;
  for (const key of dottedPath.split('.')) {
    if (node === null || typeof node !== 'object' || !(key in node)) return '';
    node = (node as Record<string, unknown>)[key];
  }
  return node === null || node === undefined || typeof node === 'object' ? '' : String(node);
}

/** KATA_VERSIONS_FILE, else versions.yaml of the Kata tree around the builder. */
export function versionsFileOf(settings: { versionsFile: string }, scriptDir: string): string {
  return settings.versionsFile || join(scriptDir, '../../versions.yaml');
}

/** Read one value from versions.yaml; '' when the file or the key is missing. */
export function packageVersion(file: string, dottedPath: string): string {
  if (!existsSync(file)) return '';
  const text = readTextFile(file, `KATA_VERSIONS_FILE=${file}`);
  try {
    return versionAt(parseVersions(text), dottedPath);
  } catch (e) {
    return die(`cannot read ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export const RUST_VERSION_KEY = 'languages.rust.meta.newest-version';

export function rustVersion(ctx: RootfsContext): string {
  return packageVersion(versionsFileOf(ctx.settings, ctx.scriptDir), RUST_VERSION_KEY);
}

/** Kata's versions.yaml, when it exists (or is named explicitly): valid YAML holding a mapping. */
export function checkVersionsFile(path: string, explicit: boolean): void {
  if (!existsSync(path)) {
    if (explicit) die(`KATA_VERSIONS_FILE=${path} does not exist: give the path of Kata's versions.yaml or unset it`);
    return;
  }
  const text = readTextFile(path, `KATA_VERSIONS_FILE=${path}`);
  let doc: unknown;
  try {
    doc = parseVersions(text);
  } catch (e) {
    die(`${path} is not valid YAML (${(e as Error).message.split('\n')[0]}): fix it or point KATA_VERSIONS_FILE at a good versions.yaml`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    die(`${path} does not hold a YAML mapping: fix it or point KATA_VERSIONS_FILE at a good versions.yaml`);
  }
}
