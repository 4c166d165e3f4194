// A retried install starts from an empty target: what a failed mmdebstrap,
// debootstrap, dnf or apk run left there (half-unpacked packages, a partial
// database) is removed. The directory itself stays: in a build container it
// is the mount point of the host's staging directory.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../core/exec.ts';
import { die } from '../core/log.ts';
import { mountsBelow, realPathOf, unsafeRootfsReason } from '../core/safe-paths.ts';

export async function emptyTarget(dir: string): Promise<void> {
  const unsafe = unsafeRootfsReason(dir);
  if (unsafe) die(`refusing to empty ${dir} for a retry: ${unsafe}`);
  // A failed chroot tool may leave /proc, /sys or /dev mounted inside.
  const self = realPathOf(dir);
  for (const m of mountsBelow(dir)) if (m !== self) await $({ nothrow: true })`umount -l ${m}`;
  const entries = readdirSync(dir).map((e) => join(dir, e));
  if (entries.length) await $`rm -rf --one-file-system ${entries}`;
}
