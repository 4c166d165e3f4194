// sbom.ts — what is inside a guest: the package table of a built rootfs,
// image or initrd from its CycloneDX SBOM, or what changed between two builds.
// Usage: tsx sbom.ts [--json] [--diff OTHER] <rootfs-dir | IMAGE | INITRD | FILE.cdx.json>
import { parseCommandLine } from './lib/core/args.ts';
import {
  type SettingSpec, configureOutput, describeSettings, isMain, resolveSettings, runMain, text, truthy,
} from './lib/core/cli.ts';
import { outputSettings } from './lib/core/shared-settings.ts';
import { die } from './lib/core/log.ts';
import { describeSbom, diffSboms, formatDiff, loadSbom } from './lib/sbom/load.ts';

export const sbomSettings = {
  help: { flag: 'h', default: false, parse: truthy, help: 'show this help' } as SettingSpec<boolean>,
  diff: { flag: 'diff', arg: 'OTHER', default: '', parse: text, help: 'show what changed from TARGET to OTHER (added, removed, version changes)' } as SettingSpec<string>,
  json: { flag: 'json', default: false, parse: truthy, help: 'print the SBOM document itself' } as SettingSpec<boolean>,
  ...outputSettings,
};

export const USAGE = `
Usage: sbom.ts [options] <rootfs-dir | IMAGE | INITRD | FILE.cdx.json>

Print the packages and osbuilder-ts inputs (agent, tarballs, kernel modules)
of a guest from its CycloneDX SBOM: var/lib/osbuilder/sbom.cdx.json inside a
rootfs (a tree without one: its package database), <IMAGE>.cdx.json beside an
image or initrd.

Options:
${describeSettings(sbomSettings)}
`;

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const opts = parseCommandLine(sbomSettings, argv, { min: 0, max: 1, what: 'one rootfs directory, image or SBOM file' });
  const s = resolveSettings(sbomSettings, env, opts);
  configureOutput(s);
  if (s.help || opts._.length === 0) {
    process.stdout.write(USAGE);
    return;
  }
  if (opts.diff === '') die('--diff needs the other build: --diff OTHER');
  const target = await loadSbom(String(opts._[0]));
  if (s.diff) {
    const other = await loadSbom(s.diff);
    process.stdout.write(`--- ${target.from}\n+++ ${other.from}\n${formatDiff(diffSboms(target.doc, other.doc))}`);
    return;
  }
  process.stdout.write(s.json ? `${JSON.stringify(target.doc, null, 2)}\n` : describeSbom(target));
}

if (isMain(import.meta.url)) await runMain(() => main());
