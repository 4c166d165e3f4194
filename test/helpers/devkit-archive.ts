// The archives a devkit build can use here: the stand-in Ubuntu archive
// (suite resolute, components main and universe, as kata-deploy's devkit
// reads Ubuntu's; the tests), or this machine's own Debian mirror, read from
// the host's apt sources: the release the host runs, component main (Debian
// has busybox-static and ltrace there; bench:matrix, for real downloads).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { osReleaseField } from '../../lib/core/os-release.ts';
import { startUbuntuArchive } from './ubuntu-archive.ts';

export interface DevkitArchive {
  osVersion: string;
  repoUrl: string;
  components: string;
  /** The rootfs.ts variables that point a build at it. */
  env: Record<string, string>;
}

/** `URIs`/`Suites`/`Components` of every deb source of the host (deb822 and one-line files). */
export function hostAptSources(dir = '/etc/apt'): { uri: string; suites: string[]; components: string[] }[] {
  const out: { uri: string; suites: string[]; components: string[] }[] = [];
  const files = [join(dir, 'sources.list'), ...(existsSync(join(dir, 'sources.list.d')) ? readdirSync(join(dir, 'sources.list.d')).map((f) => join(dir, 'sources.list.d', f)) : [])];
  for (const file of files.filter((f) => existsSync(f))) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.*)$`, 'mi'))?.[1]?.trim().split(/\s+/) ?? [];
        if (!field('Types').includes('deb') || /^Enabled:\s*no/mi.test(stanza)) continue;
        for (const uri of field('URIs')) out.push({ uri, suites: field('Suites'), components: field('Components') });
      }
    } else if (file.endsWith('.list')) {
      for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/gm)) {
        out.push({ uri: m[1]!, suites: [m[2]!], components: m[3]!.trim().split(/\s+/) });
      }
    }
  }
  return out;
}

/** The host's own release's mirror (its main suite, not -updates or -security alone). */
export function devkitArchive(): DevkitArchive {
  const osVersion = osReleaseField(readFileSync('/etc/os-release', 'utf8'), 'VERSION_CODENAME');
  if (!osVersion) throw new Error('no VERSION_CODENAME in /etc/os-release: the devkit tests need a Debian host with an apt mirror');
  const source = hostAptSources().find((s) => s.suites.includes(osVersion) && s.components.includes('main'));
  if (!source) throw new Error(`no deb source for ${osVersion} main in the host's apt sources`);
  const repoUrl = source.uri.replace(/\/+$/, '');
  return { osVersion, repoUrl, components: 'main', env: { OS_VERSION: osVersion, REPO_URL: repoUrl, REPO_COMPONENTS: 'main' } };
}

/** What identifies the stand-in for a cache key (its content is keyed by the stand-in's own cache). */
export const STAND_IN_DEVKIT = { osVersion: 'resolute', archive: 'stand-in Ubuntu archive', components: 'main universe (the devkit default)' };

/** Run `fn` with the stand-in archive served: its variables for a host build of devkit (the default components). */
export async function withStandInArchive<T>(fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const archive = await startUbuntuArchive();
  try {
    return await fn({ OS_VERSION: STAND_IN_DEVKIT.osVersion, REPO_URL: archive.repoUrl, APT_KEYRING: archive.keyring });
  } finally {
    await archive.stop();
  }
}
