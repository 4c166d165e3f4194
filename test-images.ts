// test-images.ts — build and boot every distro (upstream tests/test_images.sh).
// For each distro: rootfs with the test agent, once as init (AGENT_INIT=yes)
// and once started by systemd; a disk image and an initrd of each, built
// through the Makefile targets as upstream does; each booted in QEMU (TCG)
// until the agent's marker appears. Prints upstream's size table plus the
// boot time.
// Usage: tsx test-images.ts [--list | --test-images-only | --test-initrds-only] [DISTRO...]
import { existsSync, statSync } from 'node:fs';
import { fx } from './lib/core/effects.ts';
import { join } from 'node:path';
import { parseCommandLine } from './lib/core/args.ts';
import { hostOsId } from './lib/core/os-release.ts';
import { archSetting, outputSettings } from './lib/core/shared-settings.ts';
import { type SettingSpec, type Settings, configureOutput, describeSettings, integer, isMain, onCleanup, resolveSettings, runMain, text, truthy } from './lib/core/cli.ts';
import { bootGuest } from './lib/boot/boot.ts';
import { type BuiltGuest, statsTable } from './lib/boot/stats.ts';
import { $ } from './lib/core/exec.ts';
import { die, error, info, ok, step, warn } from './lib/core/log.ts';
import { removeTree } from './lib/core/safe-paths.ts';
import { testAgentBinary } from './test/helpers/agent.ts';
import { type Arch, checkArch, hostArch } from './lib/core/arch.ts';
import { BOOT_ARCHES } from './lib/boot/arch.ts';

const projectDir = new URL('./', import.meta.url).pathname;
const tsx = join(projectDir, 'node_modules/.bin/tsx');

/** Options and environment of test-images.ts: help and validation come from here. */
export const testImagesSettings = {
  help: { flag: 'h', default: false, parse: truthy, help: 'show this help' } as SettingSpec<boolean>,
  list: { flag: 'list', default: false, parse: truthy, help: 'list the distros that would be tested' } as SettingSpec<boolean>,
  imagesOnly: { flag: 'test-images-only', default: false, parse: truthy, help: 'only build and boot disk images' } as SettingSpec<boolean>,
  initrdsOnly: { flag: 'test-initrds-only', default: false, parse: truthy, help: 'only build and boot initrds' } as SettingSpec<boolean>,
  arch: { ...archSetting, help: "guest architecture (default: the host's; a foreign one is built through qemu-user with a cross-compiled test agent and booted in that architecture's QEMU)" },
  bootTimeout: { env: 'BOOT_TIMEOUT', default: 300, parse: integer(1, 86_400), help: 'seconds per boot' } as SettingSpec<number>,
  keepTestDir: { env: 'KEEP_TEST_DIR', default: false, parse: truthy, help: 'keep the build directory' } as SettingSpec<boolean>,
  agentSourceBin: { env: 'AGENT_SOURCE_BIN', default: '', parse: text, help: 'the agent binary to install (default: the test agent, built once)' } as SettingSpec<string>,
  ...outputSettings,
};
type TestImagesSettings = Settings<typeof testImagesSettings>;

const usage = (defaultDistros: string) => `
Usage: test-images.ts [options] [DISTRO...]

Build a rootfs, a disk image and an initrd of each DISTRO with the test agent
(test/agent), once with the agent as init and once started by systemd, boot
each in QEMU (TCG) and pass when the agent comes up. Without DISTRO, the
distros buildable on this machine are tested: those bootstrapped from the
host's own package repositories (here: ${defaultDistros}).

Options and environment:
${describeSettings(testImagesSettings)}
`;

type AgentInit = 'yes' | 'no';

interface Plan {
  distros: string[];
  images: boolean;
  initrds: boolean;
  bootTimeout: number;
}

async function knownDistros(): Promise<string[]> {
  const out = await $({ cwd: projectDir })`${tsx} rootfs.ts -l`;
  return out.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** INIT_PROCESS and ARCH_EXCLUDE_LIST of `rootfs.ts -t DISTRO`. */
export function parseTestConfig(text: string): { initProcess: string; archExclude: string[] } {
  const value = (key: string) => text.match(new RegExp(`^${key}:\\t+(.*)$`, 'm'))?.[1]?.trim() ?? '';
  return { initProcess: value('INIT_PROCESS'), archExclude: value('ARCH_EXCLUDE_LIST').split(/\s+/).filter(Boolean) };
}

/** The host's distro family, whose repositories the builders can reach. */
function hostDistros(known: string[]): string[] {
  const id = hostOsId();
  return known.filter((d) => d === id);
}

async function distrosToTest(requested: string[], arch: Arch): Promise<string[]> {
  const known = await knownDistros();
  for (const d of requested) if (!known.includes(d)) die(`Not a valid distro: ${d} (known: ${known.join(', ')})`);
  const candidates = requested.length ? requested : hostDistros(known);
  const out: string[] = [];
  for (const d of candidates) {
    const cfg = parseTestConfig((await $({ cwd: projectDir })`${tsx} rootfs.ts -t ${d}`).stdout);
    if (!['systemd', 'kata-agent'].includes(cfg.initProcess)) die(`Invalid init process specified for distro ${d}: "${cfg.initProcess}"`);
    if (cfg.archExclude.includes(arch)) {
      info(`Skipping distro ${d} on architecture ${arch}`);
      continue;
    }
    out.push(d);
  }
  return out;
}

async function duBytes(dir: string): Promise<number> {
  return Number((await $`du -sb ${dir}`).stdout.split('\t')[0]);
}

/** `make <target>` with upstream's variables, as tests/test_images.sh calls it. */
async function make(target: string, vars: Record<string, string>, env: NodeJS.ProcessEnv): Promise<void> {
  const assignments = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
  await $({ cwd: projectDir, env })`make ${target} ${assignments}`;
}

async function testDistro(distro: string, agentInit: AgentInit, plan: Plan, workDir: string, agent: string, arch: Arch): Promise<BuiltGuest[]> {
  const label = agentInit === 'yes' ? `${distro}-agent-init` : distro;
  const rootfsDest = join(workDir, `rootfs-agent-init-${agentInit}`);
  const imagesDest = join(workDir, `images-agent-init-${agentInit}`);
  fx.mkdir(rootfsDest, { recursive: true });
  fx.mkdir(imagesDest, { recursive: true });
  const env = { ...process.env, ARCH: arch, AGENT_INIT: agentInit, AGENT_SOURCE_BIN: agent };
  // Images on NVDIMM as Kata attaches them, where the machine offers it.
  const media = BOOT_ARCHES[arch].nvdimmMachine ? 'nvdimm' : 'virtio';
  const vars = { ROOTFS_BUILD_DEST: rootfsDest, IMAGES_BUILD_DEST: imagesDest, AGENT_INIT: agentInit };

  await step(`Building rootfs for ${label}`, () => make(`rootfs-${distro}`, vars, env));
  const rootfs = join(rootfsDest, `${distro}_rootfs`);
  if (existsSync(join(rootfsDest, `${distro}_fail`))) {
    warn(`Building rootfs for ${distro} failed, not creating an image or initrd`);
    return [];
  }
  const rootfsBytes = await duBytes(rootfs);
  const guests: BuiltGuest[] = [];
  const kinds = [...(plan.images ? (['image'] as const) : []), ...(plan.initrds ? (['initrd'] as const) : [])];
  for (const type of kinds) {
    const path = join(imagesDest, `kata-containers-${type}-${distro}.img`);
    await step(`Making ${type} for ${label}`, () => make(`${type}-${distro}`, vars, env));
    const result = await step(`Booting ${type} of ${label}`, () =>
      bootGuest(type === 'image' ? { image: path, media, arch, timeoutSeconds: plan.bootTimeout } : { initrd: path, arch, timeoutSeconds: plan.bootTimeout }));
    if (result.markerSeen) ok(`${type} of ${label}: agent up after ${result.seconds.toFixed(1)} s`);
    else {
      error(`${type} of ${label}: the agent did not come up; console tail:`);
      process.stderr.write(result.console.trimEnd().split('\n').slice(-30).join('\n') + '\n');
    }
    guests.push({
      name: label, type, imageBytes: statSync(path).size, rootfsBytes,
      bootSeconds: result.markerSeen ? result.seconds : undefined,
    });
  }
  await removeTree(rootfs);
  return guests;
}

export function parseTestImagesArgs(argv: string[], env: NodeJS.ProcessEnv): { s: TestImagesSettings; distros: string[] } {
  const opts = parseCommandLine(testImagesSettings, argv, { min: 0, max: Infinity, what: 'DISTRO names' });
  return { s: resolveSettings(testImagesSettings, env, opts), distros: opts._.map(String) };
}

async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const { s, distros } = parseTestImagesArgs(argv, env);
  configureOutput(s);
  if (s.help || distros[0] === 'help') {
    const defaults = hostDistros(await knownDistros()).join(' ') || 'none';
    process.stdout.write(usage(defaults));
    return;
  }
  if (s.imagesOnly && s.initrdsOnly) die('--test-images-only and --test-initrds-only exclude each other');
  const arch = checkArch(s.arch || hostArch());
  const plan: Plan = {
    distros: await distrosToTest(distros, arch),
    images: !s.initrdsOnly,
    initrds: !s.imagesOnly,
    bootTimeout: s.bootTimeout,
  };
  if (s.list) {
    process.stdout.write(plan.distros.map((d) => `${d}\n`).join(''));
    return;
  }
  if (!plan.distros.length) die('no distro to test on this machine: name one, e.g. tsx test-images.ts debian');
  info(`Running tests for: ${plan.distros.join(' ')} (${arch})`);

  const workDir = fx.mkdtemp('/var/tmp/osbuilder-test-');
  if (!s.keepTestDir) {
    onCleanup(async () => {
      for (const sub of ['rootfs-agent-init-yes', 'rootfs-agent-init-no']) await removeTree(join(workDir, sub));
      fx.remove(workDir, { recursive: true, force: true });
    });
  }
  const agent = s.agentSourceBin || (await testAgentBinary(arch));
  const guests: BuiltGuest[] = [];
  for (const distro of plan.distros) {
    for (const agentInit of ['yes', 'no'] as const) guests.push(...(await testDistro(distro, agentInit, plan, workDir, agent, arch)));
  }

  info('Image and rootfs sizes (in bytes and MB), smallest image first:');
  console.log(`\n${statsTable(guests)}\n`);
  const failed = guests.filter((g) => g.bootSeconds === undefined);
  if (failed.length) die(`the agent did not come up in: ${failed.map((g) => `${g.type} ${g.name}`).join(', ')}`);
  if (!guests.length) die('nothing was built');
  info('all tests finished successfully');
}

if (isMain(import.meta.url)) await runMain(main);
