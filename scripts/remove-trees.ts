// `make clean` and `make invalidate-rootfs-DISTRO` for a non-root caller:
// remove each path given; a tree a container build left root-owned goes
// through a build container (USE_DOCKER / USE_PODMAN), as rootfs.ts removes
// an old tree; a rootless build's, in a user namespace (lib/core/userns.ts). Usage: tsx scripts/remove-trees.ts PATH...
import { lstatSync, rmSync } from 'node:fs';
import { configureOutput, isMain, resolveSettings, runMain, text } from '../lib/core/cli.ts';
import { engineFor } from '../lib/core/engine-choice.ts';
import { engineSettings, outputSettings } from '../lib/core/shared-settings.ts';
import { useContainerRemoval } from '../lib/container/remove.ts';
import { removeTree } from '../lib/core/safe-paths.ts';
import { rootlessAvailable, useUsernsRemoval, wantsRootless } from '../lib/core/userns.ts';

export async function removePaths(paths: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const s = resolveSettings({ ...outputSettings, ...engineSettings, distro: { env: 'DISTRO', default: '', parse: text, help: 'the distro whose build image removes' } }, env);
  configureOutput(s);
  const engine = engineFor(s);
  const preferred = s.distro ? [`${s.distro}-rootfs-osbuilder`] : [];
  if (engine) useContainerRemoval(engine, preferred, s.dockerRuntime);
  // A rootless build's tree holds subordinate ids' files: removed as root of a user namespace.
  else if (wantsRootless(engine, env) && rootlessAvailable(env)) useUsernsRemoval(env);
  for (const path of paths) {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) await removeTree(path);
    else rmSync(path, { force: true });
  }
}

if (isMain(import.meta.url)) await runMain(() => removePaths(process.argv.slice(2)));
