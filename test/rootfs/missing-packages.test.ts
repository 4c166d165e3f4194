// tier: unit
// Packages the repository lacks, read from the package managers' own output.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { explainMissingPackages, missingPackages } from '../../lib/rootfs/missing-packages.ts';
import type { RootfsContext } from '../../lib/rootfs/types.ts';
import { isBuildError } from '../helpers/errors.ts';

test('apt, mmdebstrap, debootstrap, dnf and apk lines name the missing packages', () => {
  assert.equal(missingPackages('Building dependency tree...\nE: Unable to locate package nosuch\nE: apt download failed: E: apt-get --yes install nosuch failed'), ['nosuch']);
  assert.equal(missingPackages("E: Package 'chrony' has no installation candidate"), ['chrony']);
  assert.equal(missingPackages("I: Checking component main on http://deb.debian.org/debian...\nE: Couldn't find these debs: nosuch other"), ['nosuch', 'other']);
  assert.equal(missingPackages('No match for argument: nosuch\nNo match for argument: other\nError: Unable to find a match: nosuch other'), ['nosuch', 'other']);
  assert.equal(missingPackages('ERROR: unable to select packages:\n  nosuch (no such package):\n    required by: world[nosuch]'), ['nosuch']);
});

test('a download failure names no package', () => {
  assert.equal(missingPackages('E: Failed to fetch http://127.0.0.1:1/pool/x.deb  File has unexpected size (633 != 618). Mirror sync in progress?'), []);
  assert.equal(missingPackages("Error: Failed to download metadata for repo 'base': Cannot download repomd.xml: All mirrors were tried"), []);
});

const ctx = { repoUrl: 'http://127.0.0.1:8080/', distroName: 'fedora', osVersion: '42', extraPackages: ['nosuch'] } as RootfsContext;

test('one ERROR naming the setting that names the package', async () => {
  await explainMissingPackages(ctx, () => $`echo 'No match for argument: nosuch' >&2; exit 1`).then(
    () => assert.unreachable(),
    (e) => assert.ok(isBuildError(/^no package nosuch in http:\/\/127\.0\.0\.1:8080\/: EXTRA_PKGS names nosuch: correct or drop it$/)(e), String(e)),
  );
  await explainMissingPackages({ ...ctx, repoUrl: '' } as RootfsContext, () => $`echo 'No match for argument: systemd' >&2; exit 1`).then(
    () => assert.unreachable(),
    (e) => assert.ok(isBuildError(/^no package systemd in the fedora 42 repositories: the fedora package list needs systemd: pick an OS_VERSION or REPO_URL that has it$/)(e), String(e)),
  );
});

test('any other failure goes through as it is', async () => {
  const failure = await explainMissingPackages(ctx, () => $`echo 'E: Sub-process /usr/bin/dpkg returned an error code (1)' >&2; exit 100`).catch((e: unknown) => e);
  assert.is((failure as { exitCode?: number }).exitCode, 100);
});

test.run();
