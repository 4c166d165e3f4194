// A local rpm repository of tiny noarch stand-ins named like the Fedora
// packages the fedora config asks for, built with rpmbuild + createrepo_c.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';

export interface StandInRpm {
  name: string;
  /** path (without leading /) → content; a content starting with "-> " makes a symlink. */
  files: Record<string, string>;
  mode?: Record<string, string>;
}

/** libseccomp, which every dnf distro asks for with SECCOMP=yes (the default). */
export const LIBSECCOMP_STAND_IN: StandInRpm = { name: 'libseccomp', files: { 'usr/lib64/libseccomp.so.2': 'stand-in\n' } };

/** Stand-ins for the packages of the fedora config (AGENT_INIT=no). */
export const FEDORA_STAND_INS: StandInRpm[] = [
  LIBSECCOMP_STAND_IN,
  { name: 'iptables', files: { 'usr/sbin/iptables': '#!/bin/sh\n' }, mode: { 'usr/sbin/iptables': '755' } },
  {
    name: 'chrony',
    files: {
      'etc/chrony.conf': 'pool time.example iburst\nserver ntp.example\ndriftfile /var/lib/chrony/drift\n',
      'usr/lib/systemd/system/chronyd.service': '[Unit]\nDescription=NTP client/server\n\n[Service]\nExecStart=/usr/sbin/chronyd -u chrony $OPTIONS\n',
    },
  },
  {
    name: 'systemd',
    files: { 'usr/lib/systemd/systemd': '#!/bin/sh\n', 'sbin/init': '-> ../usr/lib/systemd/systemd' },
    mode: { 'usr/lib/systemd/systemd': '755' },
  },
];

/** Stand-ins for what the fedora config asks for with AGENT_INIT=yes (no systemd): libseccomp, iptables and chrony. */
export const FEDORA_AGENT_INIT_STAND_INS: StandInRpm[] = [
  LIBSECCOMP_STAND_IN,
  { name: 'iptables', files: { 'usr/sbin/iptables': 'stand-in\n' } },
  { name: 'chrony', files: { 'etc/chrony.conf': 'pool time.example iburst\n' } },
];

/** The spec of a stand-in: noarch, or for `arch` (built with rpmbuild --target). */
export function specText(p: StandInRpm, arch?: string): string {
  const install = Object.entries(p.files).flatMap(([path, content]) => {
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    const mk = dir ? [`mkdir -p %{buildroot}/${dir}`] : [];
    if (content.startsWith('-> ')) return [...mk, `ln -s ${content.slice(3)} %{buildroot}/${path}`];
    const b64 = Buffer.from(content).toString('base64');
    const chmod = p.mode?.[path] ? [`chmod ${p.mode[path]} %{buildroot}/${path}`] : [];
    return [...mk, `echo ${b64} | base64 -d > %{buildroot}/${path}`, ...chmod];
  });
  return [
    `Name: ${p.name}`, 'Version: 1.0', 'Release: 1', 'Summary: osbuilder-ts test stand-in', 'License: MIT', ...(arch ? [] : ['BuildArch: noarch']), 'AutoReqProv: no',
    '%description', 'Test stand-in.', '%install', ...install, '%files', ...Object.keys(p.files).map((f) => `/${f}`), '',
  ].join('\n');
}

/** Build the rpms (noarch, or for `arch`) and index them; returns the repository directory. */
export async function buildRpmRepo(dir: string, rpms: StandInRpm[], arch?: string): Promise<string> {
  const top = join(dir, 'rpmbuild');
  const repo = join(dir, 'repo');
  mkdirSync(repo, { recursive: true });
  for (const p of rpms) {
    const spec = join(dir, `${p.name}.spec`);
    writeFileSync(spec, specText(p, arch));
    await $`rpmbuild -bb ${arch ? ['--target', arch] : []} --define ${`_topdir ${top}`} --define ${'__os_install_post %{nil}'} ${spec}`;
  }
  await $`cp ${top}/RPMS/${arch ?? 'noarch'}/. ${repo}/ -r`;
  await $`createrepo_c -q ${repo}`;
  return repo;
}
