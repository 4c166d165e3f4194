// Which paths of a tree carry extended attributes (capabilities, ACLs,
// SELinux labels, user.*): getfattr lists every namespace with `-m -`.
// Node has no xattr calls, and a writer that cannot carry them must know.
import { $, failureSummary } from '../core/exec.ts';
import { die } from '../core/log.ts';

/** Paths (relative to `root`) with at least one extended attribute, in getfattr's order. */
export async function xattrPaths(root: string): Promise<string[]> {
  // -P: do not follow symlinks; --absolute-names: print paths as given; names are escaped as octal.
  const out = await $({ cwd: root, nothrow: true })`getfattr -R -P -h --absolute-names -m - .`;
  if (out.exitCode !== 0) die(`cannot read the extended attributes of ${root}: ${failureSummary(out)}`);
  const paths: string[] = [];
  for (const line of out.stdout.split('\n')) {
    if (!line.startsWith('# file: ')) continue;
    const rel = line.slice('# file: '.length).replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    paths.push(rel === '.' ? '' : rel.replace(/^\.\//, ''));
  }
  return paths;
}
