// SBOM checks shared by the tests: schema validation with the CycloneDX
// library's validator, and the distro-stage-then-setup build whose package
// database is still there to compare with.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { cached, hashFiles, hashOf } from './cache.ts';
import { repoRoot, rootfsBuilderInputs, runRootfs } from './rootfs-fixture.ts';

/** Fails with the validator's errors unless `text` is a valid CycloneDX JSON document. */
export async function assertValidCycloneDx(text: string): Promise<void> {
  const errors = await new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6).validate(text);
  assert.is(errors, null, `schema errors: ${JSON.stringify(errors, null, 2)?.slice(0, 2000)}`);
}

export const sha256Of = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

export type Json = Record<string, any>;

/** "name version" of every package component (those with an osbuilder:package:type property). */
export function sbomPackages(doc: Json): string[] {
  return (doc.components as Json[])
    .filter((c) => (c.properties ?? []).some((p: Json) => p.name === 'osbuilder:package:type'))
    .map((c) => `${c.name} ${c.version}`)
    .sort();
}

/** Copy a distro-stage tree and run the Kata setup (rootfs.ts -r DIR, no distro) on the copy. */
export async function setupCopy(stage: string, dir: string, env: Record<string, string>): Promise<void> {
  await $`cp -a ${stage} ${dir}`;
  const out = await runRootfs(['-r', dir], env);
  assert.is(out.exitCode, 0, out.stderr);
}

export async function runSbom(args: string[]) {
  return $({ cwd: repoRoot, nothrow: true })`${join(repoRoot, 'node_modules/.bin/tsx')} sbom.ts ${args}`;
}

/** A cached Debian distro stage (STAGE_PREPARE_ROOTFS=1): var/lib/dpkg still there, which the Kata setup removes (as upstream). */
export async function debianStage(): Promise<string> {
  const key = hashOf(hashFiles(...rootfsBuilderInputs('debian')), 'stage');
  const dir = await cached('debian-stage', key, async (tmp) => {
    const out = await runRootfs(['-r', join(tmp, 'rootfs'), 'debian'], { STAGE_PREPARE_ROOTFS: '1' });
    if (out.exitCode !== 0) throw new Error(`rootfs.ts debian (stage) failed:\n${out.stderr}`);
  });
  return join(dir, 'rootfs');
}
