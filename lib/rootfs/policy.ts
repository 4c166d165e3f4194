// AGENT_POLICY=yes: the agent's default policy, installed as upstream does
// (etc/kata-opa/<file>, 0644 root:root, linked as default-policy.rego).
import { basename, join, resolve } from 'node:path';
import type { GuestTree } from '../core/guest-tree.ts';
import { checkExistingFile } from '../core/input-checks.ts';
import { info, ok } from '../core/log.ts';
import { agentSourceDirOf } from './agent.ts';
import type { RootfsSettings } from './settings.ts';

export const POLICY_DIR = 'etc/kata-opa';
export const DEFAULT_POLICY_LINK = 'default-policy.rego';

/** AGENT_POLICY_FILE, or the allow-all policy beside the agent sources (src/kata-opa of the Kata tree). */
export function policyFileOf(settings: RootfsSettings, scriptDir: string): string {
  return resolve(settings.agentPolicyFile || join(agentSourceDirOf(settings, scriptDir), '../kata-opa/allow-all.rego'));
}

/** Checked before anything is written: the policy file exists. */
export function checkPolicyFile(settings: RootfsSettings, scriptDir: string): void {
  if (settings.agentPolicy !== 'yes') return;
  const how = settings.agentPolicyFile ? 'give an existing rego file' : 'set AGENT_POLICY_FILE to a rego file, or AGENT_SOURCE_DIR to the agent sources of a Kata tree';
  checkExistingFile(policyFileOf(settings, scriptDir), 'AGENT_POLICY_FILE', how);
}

export function installAgentPolicy(tree: GuestTree, settings: RootfsSettings, scriptDir: string): void {
  if (settings.agentPolicy !== 'yes') return;
  const file = policyFileOf(settings, scriptDir);
  const name = basename(file);
  info(`Install the default agent policy ${file}`);
  tree.copy(file, join(POLICY_DIR, name), { mode: 0o644, uid: 0, gid: 0 });
  // A file already named default-policy.rego is the default itself (upstream's ln -sf would replace it with a loop).
  if (name !== DEFAULT_POLICY_LINK) tree.symlink(name, join(POLICY_DIR, DEFAULT_POLICY_LINK));
  ok(`${POLICY_DIR}/${DEFAULT_POLICY_LINK} is ${name}`);
}
