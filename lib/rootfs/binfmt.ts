// Foreign-architecture builds: the package managers run the guest's maintainer
// scripts inside the rootfs chroot, so the kernel must hand that
// architecture's binaries to qemu-user (binfmt_misc). The handler needs the F
// flag: the interpreter is opened at registration, as nothing of the host's
// /usr exists inside the chroot.
import { existsSync, readFileSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { join } from 'node:path';
import { ARCHES, type Arch, hostArch } from '../core/arch.ts';
import { $, haveCommand } from '../core/exec.ts';
import { die, info } from '../core/log.ts';

export const BINFMT_MISC = '/proc/sys/fs/binfmt_misc';
/** Where qemu-user-static puts its systemd-binfmt lines, and binfmt-support its formats. */
const BINFMT_D = '/usr/lib/binfmt.d';
const BINFMTS = '/usr/share/binfmts';
export const QEMU_USER_PACKAGES = 'qemu-user-static binfmt-support';

export interface BinfmtHandler {
  enabled: boolean;
  interpreter: string;
  flags: string;
}

/** A handler file of binfmt_misc (`enabled`, `interpreter ...`, `flags: ...`). */
export function parseHandler(text: string): BinfmtHandler {
  const field = (key: string) => text.match(new RegExp(`^${key}:? (.*)$`, 'm'))?.[1]?.trim() ?? '';
  return { enabled: /^enabled$/m.test(text), interpreter: field('interpreter'), flags: field('flags') };
}

/** The registered handler named `name`, or undefined. */
export function readHandler(name: string, dir = BINFMT_MISC): BinfmtHandler | undefined {
  const path = join(dir, name);
  return existsSync(path) ? parseHandler(readFileSync(path, 'utf8')) : undefined;
}

/** The registration line (`:name:type:offset:magic:mask:interpreter:flags`) of a binfmt.d file. */
export function registrationLine(conf: string): string | undefined {
  return conf.split('\n').map((l) => l.trim()).find((l) => l.startsWith(':'));
}

async function tryRegister(name: string): Promise<void> {
  if (!existsSync(join(BINFMT_MISC, 'register'))) {
    await $({ nothrow: true, quiet: true })`mount -t binfmt_misc binfmt_misc ${BINFMT_MISC}`;
    if (!existsSync(join(BINFMT_MISC, 'register'))) return;
  }
  const current = readHandler(name);
  try {
    if (current && !current.enabled) {
      fx.write(join(BINFMT_MISC, name), '1');
      return;
    }
    const conf = join(BINFMT_D, `${name}.conf`);
    const line = existsSync(conf) ? registrationLine(readFileSync(conf, 'utf8')) : undefined;
    if (line) {
      fx.write(join(BINFMT_MISC, 'register'), line);
      return;
    }
  } catch {
    // Not allowed here (unprivileged, read-only /proc): the error below says what to do.
  }
  if (existsSync(join(BINFMTS, name)) && (await haveCommand('update-binfmts'))) {
    await $({ nothrow: true, quiet: true })`update-binfmts --enable ${name}`;
  }
}

/**
 * Make sure binaries of `arch` run on this host: nothing to do for the host's
 * own architecture; otherwise the qemu-user handler must be registered (it is
 * registered here when the host allows), else one ERROR names the packages.
 */
export async function ensureForeignExec(arch: Arch): Promise<void> {
  if (arch === hostArch()) return;
  const name = `qemu-${ARCHES[arch].qemu}`;
  if (!readHandler(name)?.enabled) {
    info(`Registering the binfmt_misc handler ${name} (${arch} binaries through qemu-user)`);
    await tryRegister(name);
  }
  const handler = readHandler(name);
  if (!handler?.enabled) {
    die(`ARCH=${arch} needs ${arch} binaries to run on this ${hostArch()} host, but no binfmt_misc handler ${name} is registered and none could be: install ${QEMU_USER_PACKAGES} (scripts/setup-host.sh), or build on a ${arch} host`);
  }
  if (!handler.flags.includes('F')) {
    die(`the binfmt_misc handler ${name} is registered without the F flag, so it cannot run inside the rootfs chroot: re-register it with flag F (qemu-user-static's own registration has it)`);
  }
  info(`${arch} binaries run through ${handler.interpreter} (binfmt_misc ${name})`);
}
