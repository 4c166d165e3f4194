// Benchmark: unpacking a realistic archive (a tarball of a Debian tree's
// /usr/share by default: tens of thousands of entries) with the project's tar
// reader/writer (lib/rootfs/tar-unpack.ts) against GNU `tar -x`, same archive,
// same disk. Prints both times, the entry counts and this process's peak RSS.
// Usage: npm run bench:tar [-- --dir /usr/share]   (root: owners are kept)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { $ } from '../lib/core/exec.ts';
import { info } from '../lib/core/log.ts';
import { unpackArchive } from '../lib/rootfs/tar-unpack.ts';
import { seconds } from './timing.ts';

const dir = String(minimist(process.argv.slice(2), { string: ['dir'] }).dir ?? '/usr/share');
const scratch = mkdtempSync('/var/tmp/osbuilder-bench-tar-');
try {
  const tarball = join(scratch, 'tree.tar.zst');
  await $`tar -c --zstd -f ${tarball} -C ${dir} .`;
  const entries = (await $`tar -t --zstd -f ${tarball} | wc -l`).stdout.trim();
  const ours = join(scratch, 'ours');
  const theirs = join(scratch, 'theirs');
  mkdirSync(ours);
  mkdirSync(theirs);
  await $`sync`;
  const tTar = await seconds(() => $`tar -x --zstd -f ${tarball} -C ${theirs} --numeric-owner --same-owner --same-permissions`);
  await $`sync`;
  const tOurs = await seconds(() => unpackArchive(ours, { variable: 'BENCH', path: tarball, compression: 'zstd' }));
  const count = async (d: string) => (await $`find ${d} -mindepth 1 | wc -l`).stdout.trim();
  info(`${dir}: ${entries} entries, ${(await $`du -sh ${tarball}`).stdout.split('\t')[0]} compressed`);
  info(`tar -x: ${tTar.toFixed(1)} s (${await count(theirs)} paths); tar-unpack.ts: ${tOurs.toFixed(1)} s (${await count(ours)} paths); peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
