// make clean-cache: empty osbuilder-ts's user cache dir
// (${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts: distro trees, packages, kernels).
// A DISTRO_CACHE_DIR or PACKAGE_CACHE_DIR set elsewhere is left alone.
import { configureOutput, resolveSettings, runMain } from '../lib/core/cli.ts';
import { $ } from '../lib/core/exec.ts';
import { info } from '../lib/core/log.ts';
import { emptyUserCache, userCacheDir } from '../lib/core/user-cache.ts';
import { engineFor, nonRootCaller } from '../lib/core/engine-choice.ts';
import { useContainerRemoval } from '../lib/container/remove.ts';
import { engineSettings, outputSettings } from '../lib/core/shared-settings.ts';
import { rootlessAvailable, useUsernsRemoval, wantsRootless } from '../lib/core/userns.ts';

await runMain(async () => {
  const s = resolveSettings({ ...outputSettings, ...engineSettings }, process.env);
  configureOutput(s);
  const engine = engineFor(s);
  // A non-root caller's container builds keep root's trees in its distro-tree cache: removed through a container.
  if (engine && nonRootCaller()) useContainerRemoval(engine, [], s.dockerRuntime);
  else if (wantsRootless(engine) && rootlessAvailable()) useUsernsRemoval();
  const dir = userCacheDir();
  const size = (await $({ nothrow: true })`du -sh ${dir}`).stdout.split('\t')[0] || '0';
  const removed = await emptyUserCache();
  info(removed.length ? `Emptied ${dir} (${size}: ${removed.join(', ')})` : `${dir} is already empty`);
});
