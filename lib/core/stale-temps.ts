// Temporary names carry the writer's PID (`.<name>.partial-<pid>`,
// `.<name>.tmp-<pid>`): two builds never share one, and those of a process
// that died without cleaning up (SIGKILL, power loss) are swept by the next run.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { fx } from './effects.ts';
import { join } from 'node:path';
import { info } from './log.ts';
import { removeTree } from './safe-paths.ts';

/** The PID in `name` when it is `prefix` + PID (optionally + `-suffix`). */
export function tempOwner(name: string, prefix: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(\d+)(?:-[A-Za-z0-9]+)?$/.exec(name.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

/** True while `pid` runs: a zombie (killed, not yet reaped by its parent or init) writes nothing more. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false; // gone between the two looks
  }
}

/** Remove `dir/<prefix><pid>[-x]` entries whose process is gone; returns what was removed. */
export async function removeStaleTemps(dir: string, prefix: string): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempOwner(name, prefix);
    if (pid === undefined || pid === process.pid || processAlive(pid)) continue;
    const path = join(dir, name);
    const st = lstatSync(path, { throwIfNoEntry: false }); // a link of that name goes, never what it points to
    if (!st) continue; // another run swept it first
    if (st.isDirectory()) await removeTree(path);
    else fx.remove(path, { force: true });
    info(`removed ${path}, left by process ${pid} which no longer runs`);
    removed.push(path);
  }
  return removed;
}
