// The distro a tree says it is (os-release), for the purl namespace and the distro qualifier.
import { lstatSync, readFileSync } from 'node:fs';
import { resolveInRoot } from '../core/in-root.ts';
import { osReleaseField } from '../core/os-release.ts';

export interface OsId {
  /** os-release ID, e.g. debian, fedora, alpine. */
  id: string;
  /** os-release VERSION_ID, e.g. 12, 40, 3.19.1 ('' when unknown). */
  versionId: string;
}

export function readOsRelease(root: string): Partial<OsId> {
  // Links resolved as the guest sees the tree (etc/os-release usually is one), never to the host's file.
  for (const rel of ['usr/lib/os-release', 'etc/os-release']) {
    const file = resolveInRoot(root, rel);
    let text: string;
    try {
      if (!file || !lstatSync(file).isFile()) continue;
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const id = osReleaseField(text, 'ID');
    const versionId = osReleaseField(text, 'VERSION_ID');
    return { ...(id ? { id } : {}), ...(versionId ? { versionId } : {}) };
  }
  return {};
}
