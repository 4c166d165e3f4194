// A non-root user made by a test, and a copy of the project it owns: how
// kata-deploy's builder (and any packager without sudo) runs the scripts.
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';
import { subordinateRange } from '../../lib/core/userns.ts';
import { repoRoot } from './rootfs-fixture.ts';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * The user, created when missing (with a home), added to `group` if given,
 * with the subordinate uid and gid range `ranges` (e.g. 600000-665535) if
 * given and it has none, else with none: -K stops useradd from giving every
 * new user a range of its own (SUB_UID_COUNT in login.defs).
 */
export async function testUser(name: string, opts: { group?: string; ranges?: string } = {}): Promise<TestUser> {
  if ((await $({ nothrow: true })`id -u ${name}`).exitCode !== 0) await $`useradd -m -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 ${name}`;
  if (opts.group && opts.group !== 'root') await $`usermod -aG ${opts.group} ${name}`;
  const uid = Number((await $`id -u ${name}`).stdout.trim());
  if (opts.ranges && !subordinateRange(readFileSync('/etc/subuid', 'utf8'), name, uid)) {
    await $`usermod --add-subuids ${opts.ranges} --add-subgids ${opts.ranges} ${name}`;
  }
  return { name, uid, gid: Number((await $`id -g ${name}`).stdout.trim()), home: `/home/${name}` };
}

/** A copy of the project (working tree, tracked and new files) in `dir`, node_modules linked to ours. */
export async function projectCopy(dir: string): Promise<void> {
  mkdirSync(dir);
  const files = (await $({ cwd: repoRoot })`git ls-files -z --cached --others --exclude-standard`).stdout.split('\0')
    .filter((f) => f && f !== 'node_modules' && existsSync(join(repoRoot, f)));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(repoRoot, f), join(dir, f), { verbatimSymlinks: true });
  }
  symlinkSync(realpathSync(join(repoRoot, 'node_modules')), join(dir, 'node_modules'));
}

/** `COMMAND` in `cwd` as `user`, with only PATH, HOME and `vars` in its environment (as a CI job's shell). */
export function runAs(user: TestUser, cwd: string, command: string[], vars: Record<string, string> = {}) {
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: `/home/${user.name}`, ...vars };
  const assigns = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return $({ nothrow: true, cwd })`runuser -u ${user.name} -- env -i ${assigns} ${command}`;
}

/** `make ARGS` in `cwd` as `user` (see runAs). */
export const makeAs = (user: TestUser, cwd: string, args: string[], vars: Record<string, string> = {}) => runAs(user, cwd, ['make', ...args], vars);
