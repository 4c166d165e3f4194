// What osbuilder-ts itself put into a tree (agent, tarballs, kernel modules,
// policy file): components beside the distro's packages, each with where it
// came from and a sha256 of what went in.
import { sha256OfFile } from '../core/file-read.ts';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface SbomInput {
  /** Component name, e.g. "kata-agent", "agent-tarball". */
  name: string;
  /** What it is: agent, tarball, kernel-modules, policy... (a property in the SBOM). */
  kind: string;
  /** Where it came from on the build host (file, directory or source tree). */
  source: string;
  /** sha256 (hex) of the file, or of the directory listing (see treeSha256). */
  sha256?: string;
  version?: string;
  /** Where it ended up in the rootfs. */
  installedAt?: string;
}

export const fileSha256 = sha256OfFile;

/** sha256 over a directory: sorted "path type mode content-or-target-hash" lines, so any change shows. */
export function treeSha256(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    const names = readdirSync(join(dir, rel)).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, path));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        h.update(`${path}\0d\0${mode}\n`);
        walk(path);
      } else if (st.isSymbolicLink()) {
        h.update(`${path}\0l\0${readlinkSync(join(dir, path))}\n`);
      } else if (st.isFile()) {
        h.update(`${path}\0f\0${mode}\0${fileSha256(join(dir, path))}\n`);
      }
    }
  };
  walk('');
  return h.digest('hex');
}

/** The sha256 of a path: the file's bytes, or the tree digest of a directory. */
export function pathSha256(path: string): string {
  return lstatSync(path).isDirectory() ? treeSha256(path) : fileSha256(path);
}
