// Benchmark: what generating the SBOM adds to a Debian build. Each run is a
// fresh Node process (so loading the SBOM modules counts; the command
// runner every build loads is loaded before the clock starts) that reads the
// package database of a real Debian distro stage (mmdebstrap, cached by the
// tests' helper), hashes the agent, builds and writes the document. Prints
// the median against the target of 1 s.
// Usage: npm run bench:sbom [-- --runs N]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import minimist from 'minimist';
import { $ } from '../lib/core/exec.ts';
import { info } from '../lib/core/log.ts';
import { testAgentBinary } from '../test/helpers/agent.ts';
import { repoRoot } from '../test/helpers/rootfs-fixture.ts';
import { debianStage } from '../test/helpers/sbom.ts';
import { median } from './timing.ts';

const TARGET_MS = 1000;

/** The SBOM step alone, timed inside the child process from before the first SBOM module is loaded. */
const child = (repo: string) => `
await import('${repo}lib/core/exec.ts'); // loaded by every build before the SBOM step
const start = performance.now();
const { readInstalledPackages } = await import('${repo}lib/sbom/database.ts');
const { rootfsBomJson } = await import('${repo}lib/sbom/bom.ts');
const { fileSha256 } = await import('${repo}lib/sbom/inputs.ts');
const { readOsRelease } = await import('${repo}lib/sbom/os-release.ts');
const { writeFileSync } = await import('node:fs');
const [root, agent, out] = process.argv.slice(-3);
const packages = await readInstalledPackages(root);
const os = readOsRelease(root);
const text = rootfsBomJson({ distroId: os.id, distroVersion: os.versionId, arch: 'x86_64', osbuilderVersion: 'bench', packages, epoch: 0,
  inputs: [{ name: 'kata-agent', kind: 'agent', source: agent, sha256: fileSha256(agent) }] });
writeFileSync(out, text);
console.log(JSON.stringify({ ms: performance.now() - start, packages: packages.packages.length, bytes: text.length }));
`;

const runs = Number(minimist(process.argv.slice(2), { string: ['runs'] }).runs ?? 5);
const scratch = mkdtempSync('/var/tmp/osbuilder-bench-sbom-');
try {
  info('Debian distro stage (cached)...');
  const stage = await debianStage();
  const agent = await testAgentBinary();
  const script = join(scratch, 'sbom-child.mts');
  writeFileSync(script, child(repoRoot));
  const times: number[] = [];
  let last = { packages: 0, bytes: 0 };
  for (let i = 0; i < runs; i++) {
    const r = await $({ cwd: repoRoot })`${join(repoRoot, 'node_modules/.bin/tsx')} ${script} ${stage} ${agent} ${join(scratch, 'sbom.cdx.json')}`;
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
    times.push(m.ms);
    last = m;
    info(`run ${i + 1}: ${Math.round(m.ms)} ms`);
  }
  const ms = median(times);
  console.log(`SBOM of a Debian rootfs (${last.packages} packages, ${last.bytes} bytes): median ${Math.round(ms)} ms over ${runs} runs; target < ${TARGET_MS} ms: ${ms < TARGET_MS ? 'met' : 'NOT met'}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
