// The xfs route for trees a protofile cannot carry (xattrs, hard links,
// sockets, holes, odd names): mount the new filesystem on a loop device and
// `cp -a` the tree in, so the kernel's xfs keeps everything cp preserves.
// The mount lives in a private mount namespace (unshare -m) of a shell that
// dies with this process (setpriv --pdeathsig): whatever way the build ends,
// the host's mount table never shows it, and when the namespace's last
// process exits the kernel unmounts it and frees the loop device.
import { fx } from '../core/effects.ts';
import { dirname, join } from 'node:path';
import { $, failureSummary } from '../core/exec.ts';
import type { FsBuild } from './fs.ts';
import { MACHINE_ID } from '../core/systemd-prune.ts';
import { die } from '../core/log.ts';
import { deviceNodeEntries } from './tree.ts';
import { nodeLetter } from '../core/device-nodes.ts';
import { devMajor, devMinor } from '../initrd/cpio.ts';

// $1 fs file, $2 mount point, $3 rootfs, $4 NUL list of directories whose
// mtime to restore, $5 add machine-id (yes/no), $6 epoch or '', $7 device
// nodes to make, one a line: path c|b major minor mode uid gid mtime.
const SCRIPT = String.raw`
set -euo pipefail
mount -t xfs -o loop "$1" "$2" || { echo "mount failed" >&2; exit 90; }
trap 'umount "$2"' EXIT
cp -a --sparse=auto -- "$3/." "$2/"
while read -r rel type major minor mode uid gid mtime; do mknod -m "$mode" "$2/$rel" "$type" "$major" "$minor"; chown "$uid:$gid" "$2/$rel"; touch -m -d "@$mtime" "$2/$rel"; done < "$7"
if [ "$5" = yes ]; then : > "$2/${MACHINE_ID}"; chown 0:0 "$2/${MACHINE_ID}"; chmod 0644 "$2/${MACHINE_ID}"; fi
while IFS= read -r -d '' rel; do touch -h -m -r "$3/$rel" -- "$2/$rel"; done < "$4"
if [ -n "$6" ]; then find "$2" -newermt "@$6" -print0 | xargs -0 -r touch -h -m -d "@$6" --; fi
`;

export async function fillXfsByCopy(b: FsBuild, fsFile: string, reason: string): Promise<void> {
  const mnt = join(b.scratch, 'mnt');
  fx.mkdir(mnt);
  const touched = join(b.scratch, 'dirs.list');
  const nul = (paths: string[]) => paths.map((p) => `${p}\0`).join('');
  const nodes = deviceNodeEntries(b.tree);
  const nodeList = join(b.scratch, 'nodes.list');
  fx.write(nodeList, nodes.map((e) => `${e.rel} ${nodeLetter(e.type)} ${devMajor(e.rdev)} ${devMinor(e.rdev)} ${e.perm.toString(8)} ${e.uid} ${e.gid} ${e.mtimeSec}\n`).join(''));
  // Adding machine-id and nodes changes their directories' mtimes: put the tree's back.
  const dirs = new Set([...(b.tree.addMachineId ? [MACHINE_ID] : []), ...nodes.map((e) => e.rel)].map((rel) => dirname(rel)));
  fx.write(touched, nul([...dirs].map((d) => (d === '.' ? '.' : d))));
  const out = await $({ nothrow: true })`setpriv --pdeathsig KILL unshare -m --propagation private bash -c ${SCRIPT} xfs-copy ${fsFile} ${mnt} ${b.tree.root} ${touched} ${b.tree.addMachineId ? 'yes' : 'no'} ${b.epoch ?? ''} ${nodeList}`;
  if (out.exitCode === 0) return;
  const why = failureSummary(out);
  if (out.exitCode === 90 || /unshare|Operation not permitted|permission denied/i.test(why)) {
    die(`xfs: ${reason}, which only a loop mount can carry, and mounting failed (${why}): run image.ts as root on the host, or use FS_TYPE=ext4 or erofs`);
  }
  die(`copying the rootfs into the xfs image failed: ${why}`);
}
