// os-release files (the host's, or a guest tree's): KEY=value lines, the
// value optionally quoted.
import { existsSync, readFileSync } from 'node:fs';

/** A field's value, unquoted; undefined when the text has no such line. */
export function osReleaseField(text: string, key: string): string | undefined {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(text);
  return m ? m[1]!.trim().replace(/^(["'])(.*)\1$/, '$2') : undefined;
}

/** The host's os-release ID ('' when the file is missing or has none). */
export function hostOsId(path = '/etc/os-release'): string {
  return (existsSync(path) && osReleaseField(readFileSync(path, 'utf8'), 'ID')) || '';
}
