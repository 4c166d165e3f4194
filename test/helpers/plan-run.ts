// Run `rootfs.ts --dry-run` (its main() in this process) and split its plan: the `+ CMD`
// lines (commands in order) and the `# ...` lines (disk writes).
import { join } from 'node:path';
import { runRootfsInProcess } from './rootfs-fixture.ts';

/** Where plans say the rootfs goes; a plan must never create it. */
export const PLAN_ROOT = '/tmp/osbuilder-plan-rootfs';
/** The dnf config directory as plans name it (mkdtemp in plan mode). */
export const PLAN_DNF_DIR = '/tmp/osbuilder-dnf-XXXXXX';

export interface Plan {
  exitCode: number;
  stdout: string;
  stderr: string;
  commands: string[];
  /** Commands of the distro stage: those before setupRootfs cleans var/. */
  distroCommands: string[];
  fileLines: string[];
}

export async function plan(distro: string, env: Record<string, string> = {}, args: string[] = []): Promise<Plan> {
  const out = await runRootfsInProcess(['--dry-run', '-r', PLAN_ROOT, ...args, distro], { AGENT_SOURCE_BIN: '/bin/true', TMPDIR: '/tmp', PACKAGE_CACHE_DIR: 'no', ...env });
  const lines = out.stdout.split('\n');
  const commands = lines.filter((l) => l.startsWith('+ ')).map((l) => l.slice(2));
  const setup = commands.findIndex((c) => c.startsWith(`rm -rf --one-file-system ${join(PLAN_ROOT, 'var/cache')}`));
  return {
    exitCode: out.exitCode ?? 1,
    stdout: out.stdout,
    stderr: out.stderr,
    commands,
    distroCommands: setup < 0 ? commands : commands.slice(0, setup),
    fileLines: lines.filter((l) => l.startsWith('# ')),
  };
}

/** The text a plan shows for a written file (its `#   ` lines after `# write PATH`). */
export function writtenText(p: Plan, path: string): string | undefined {
  const lines = p.fileLines;
  const at = lines.indexOf(`# write ${path}`);
  if (at < 0) return undefined;
  const body: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('#   ')) break;
    body.push(l.slice(4));
  }
  return body.join('\n');
}
