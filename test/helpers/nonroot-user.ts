// A non-root user made by a test, and a copy of the project it owns: how
// kata-deploy's builder (and any packager without sudo) runs the scripts.
import { cpSync, existsSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot } from './rootfs-fixture.ts';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** The user, created when missing (with a home), and added to `group` if one is given. */
export async function nonRootUser(name: string, group?: string): Promise<TestUser> {
  if ((await $({ nothrow: true })`id -u ${name}`).exitCode !== 0) await $`useradd -m ${name}`;
  if (group && group !== 'root') await $`usermod -aG ${group} ${name}`;
  return { name, uid: Number((await $`id -u ${name}`).stdout.trim()), gid: Number((await $`id -g ${name}`).stdout.trim()) };
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
