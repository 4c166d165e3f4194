// A package the repository does not have is a mistake to name, not a
// command to quote: the failed install's output is read for the names apt,
// debootstrap, dnf or apk could not find, and the build stops with one line
// saying which setting names them.
import { ProcessOutput } from '../core/exec.ts';
import { die } from '../core/log.ts';
import type { RootfsContext } from './types.ts';

const NOT_FOUND: RegExp[] = [
  /Unable to locate package (\S+)/g, // apt, mmdebstrap
  /Package '([^']+)' has no installation candidate/g, // apt
  /Couldn't find these debs: (.+)$/gm, // debootstrap
  /No match for argument: (\S+)/g, // dnf
  /^\s*(\S+) \(no such package\)/gm, // apk
];

/** Names the package manager's output says it could not find. */
export function missingPackages(output: string): string[] {
  const names = NOT_FOUND.flatMap((re) => [...output.matchAll(re)].flatMap((m) => m[1]!.trim().split(/\s+/)));
  return [...new Set(names)];
}

/** Run the install; when it fails on packages the repository lacks, die saying which and where they come from. */
export async function explainMissingPackages<T>(ctx: RootfsContext, install: () => Promise<T>): Promise<T> {
  try {
    return await install();
  } catch (e) {
    if (!(e instanceof ProcessOutput)) throw e;
    const missing = missingPackages(`${e.stdout}\n${e.stderr}`);
    if (!missing.length) throw e;
    const where = ctx.repoUrl || `the ${ctx.distroName} ${ctx.osVersion} repositories`;
    const extra = missing.filter((p) => ctx.extraPackages.includes(p));
    const listed = missing.filter((p) => !extra.includes(p));
    const fixes = [
      ...(extra.length ? [`EXTRA_PKGS names ${extra.join(', ')}: correct or drop ${extra.length > 1 ? 'them' : 'it'}`] : []),
      ...(listed.length ? [`the ${ctx.distroName} package list needs ${listed.join(', ')}: pick an OS_VERSION or REPO_URL that has ${listed.length > 1 ? 'them' : 'it'}`] : []),
    ];
    return die(`no package ${missing.join(', ')} in ${where}: ${fixes.join('; ')}`);
  }
}
