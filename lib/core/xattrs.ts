// Which paths of a tree carry extended attributes (capabilities, ACLs,
// SELinux labels, user.*), and their names: Node has no xattr calls, so
// getfattr lists every namespace (`-m -`) without following links (`-P -h`).
// A writer that cannot carry them must know.
import { $, failureSummary } from './exec.ts';
import { die } from './log.ts';

interface XattrHolder {
  /** Path relative to the tree, as bytes (names need not be UTF-8). */
  path: Buffer;
  names: string[];
}

/** getfattr escapes bytes of a name as \ooo. */
function unescapeOctal(text: string): Buffer {
  return Buffer.from(text.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))), 'latin1');
}

/** Every path under `root` with at least one extended attribute, in getfattr's order. */
export async function xattrHolders(root: string): Promise<XattrHolder[]> {
  const out = await $({ cwd: root, nothrow: true })`getfattr -R -P -h --absolute-names -m - .`;
  if (out.exitCode !== 0) die(`cannot read the extended attributes of ${root}: ${failureSummary(out)}`);
  const found: XattrHolder[] = [];
  for (const line of out.buffer().toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      const rel = line.slice('# file: '.length);
      found.push({ path: unescapeOctal(rel === '.' ? '' : rel.replace(/^\.\//, '')), names: [] });
    } else if (line && found.length) found[found.length - 1]!.names.push(line);
  }
  return found.filter((f) => f.names.length);
}
