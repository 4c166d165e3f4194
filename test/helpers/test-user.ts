// A local user for rootless tests and benches, created when missing, with
// no subordinate range unless `ranges` (e.g. 100000-165535) is given.
import { readFileSync } from 'node:fs';
import { $ } from '../../lib/core/exec.ts';
import { subordinateRange } from '../../lib/core/userns.ts';

export interface TestUser { name: string; uid: number; gid: number; home: string }

export async function testUser(name: string, ranges?: string): Promise<TestUser> {
  // -K: without it, useradd gives every new user a range of its own (SUB_UID_COUNT in login.defs).
  if ((await $({ nothrow: true })`id -u ${name}`).exitCode !== 0) await $`useradd -m -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 ${name}`;
  const uid = Number((await $`id -u ${name}`).stdout.trim());
  if (ranges && !subordinateRange(readFileSync('/etc/subuid', 'utf8'), name, uid)) await $`usermod --add-subuids ${ranges} --add-subgids ${ranges} ${name}`;
  return { name, uid, gid: Number((await $`id -g ${name}`).stdout.trim()), home: `/home/${name}` };
}
