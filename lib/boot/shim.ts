// The shim initramfs for booting a disk image with a modular (Debian) kernel:
// busybox plus the driver modules for virtio-blk, NVDIMM, xfs, erofs and
// dm-verity. Its /init loads them, creates the devices dm-mod.create= names
// (dm-create.c: the kernel's dm-init, which needs dm built in), mounts the
// root named by root=/rootfstype=/rootflags= on the kernel command line, and
// switch_roots into it, as the kernel itself would with the drivers built in
// (Kata's guest kernel).
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { atomicOutput } from '../core/atomic-write.ts';
import { join, relative } from 'node:path';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, type NewcHeader } from '../initrd/cpio.ts';
import { type CpioBody, CpioStreamWriter } from '../initrd/cpio-stream.ts';
import { kernelCacheDir, type DebianKernel } from './kernel.ts';
import { dmCreateBinary } from './dm-create.ts';
import { checkStaticBusybox } from './busybox.ts';
import { die } from '../core/log.ts';
import type { Arch } from '../core/arch.ts';
import { BOOT_ARCHES } from './arch.ts';

/** Modules the shim loads (dependencies are added from each module's modinfo). */
const SHIM_MODULES = BOOT_ARCHES.x86_64.shimModules;

const BUSYBOX = '/bin/busybox';

/** /init of the shim; a busybox sh script. */
const SHIM_INIT = `#!/bin/sh
# osbuilder-ts boot shim: load drivers, mount root=, switch_root into it.
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
fail() { echo "shim: $*"; poweroff -f; }
for m in $(cat /etc/shim-modules); do
	insmod "/lib/modules/$m" || echo "shim: cannot load $m"
done
case " $(cat /proc/cmdline)" in
*" dm-mod.create="* | *" dm_mod.create="*) dm-create || fail "cannot create the devices dm-mod.create= names" ;;
esac
root= fstype=auto flags= mode=ro init=/sbin/init
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	root=*) root=\${arg#root=} ;;
	rootfstype=*) fstype=\${arg#rootfstype=} ;;
	rootflags=*) flags=\${arg#rootflags=} ;;
	init=*) init=\${arg#init=} ;;
	ro) mode=ro ;;
	rw) mode=rw ;;
	esac
done
[ -n "$root" ] || fail "no root= on the kernel command line"
tries=0
while [ ! -b "$root" ]; do
	tries=$((tries + 1))
	[ $tries -le 100 ] || fail "root device $root did not appear"
	sleep 0.1
done
mount -t "$fstype" -o "$mode\${flags:+,$flags}" "$root" /newroot || fail "cannot mount $root ($fstype, $mode,$flags)"
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot "$init"
`;

/** The value of the first `key=` string in a module's .modinfo section (undefined when none). */
function modinfoValue(ko: Buffer, key: string): string | undefined {
  const tag = `${key}=`;
  let at = -1;
  while ((at = ko.indexOf(tag, at + 1)) >= 0) {
    if (at === 0 || ko[at - 1] === 0) {
      const end = ko.indexOf(0, at);
      return ko.toString('latin1', at + tag.length, end < 0 ? undefined : end);
    }
  }
  return undefined;
}

/** The `depends=` list of a module's .modinfo section (empty when none). */
export function moduleDepends(ko: Buffer): string[] {
  return (modinfoValue(ko, 'depends') ?? '').split(',').filter(Boolean);
}

/**
 * The `softdep=pre:` names of a module ("pre: crc32c post: x" gives
 * ["crc32c"]): what modprobe loads first. They are often aliases
 * (crypto-crc32c), resolved by `softdepModules`.
 */
export function moduleSoftdepsPre(ko: Buffer): string[] {
  const words = (modinfoValue(ko, 'softdep') ?? '').split(/\s+/).filter(Boolean);
  const pre: string[] = [];
  let inPre = false;
  for (const w of words) {
    if (w.endsWith(':')) inPre = w === 'pre:';
    else if (inPre) pre.push(w);
  }
  return pre;
}

/** Module names are compared with `-` and `_` as one. */
export function moduleName(fileName: string): string {
  return fileName.replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');
}

/** Dependencies first, each module once, in a stable order. */
export function moduleLoadOrder(wanted: string[], dependsOf: (name: string) => string[]): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') die(`module dependency loop: ${[...chain, name].join(' -> ')}`);
    state.set(name, 'visiting');
    for (const dep of [...dependsOf(name)].sort()) visit(moduleName(dep), [...chain, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of wanted) visit(moduleName(name), []);
  return order;
}

function indexModules(modulesDir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko$/.test(e.name)) index.set(moduleName(e.name), relative(modulesDir, p));
    }
  };
  walk(join(modulesDir, 'kernel'));
  return index;
}

/** Aliases the kernel's built-in modules provide (modules.builtin.modinfo: "name.alias=value\0"). */
function builtinAliases(modulesDir: string): Set<string> {
  const path = join(modulesDir, 'modules.builtin.modinfo');
  if (!existsSync(path)) return new Set();
  return new Set(readFileSync(path, 'latin1').split('\0').flatMap((s) => {
    const m = /^[^.]+\.alias=(.+)$/.exec(s);
    return m ? [m[1]!] : [];
  }));
}

/**
 * The modules that provide the softdep `name`, as modprobe would find them:
 * none when it is built in; else the module of that name, else the modules
 * named after it (crypto-crc32c -> crc32c_generic, crc32c_vpmsum, …) whose
 * modinfo has `alias=name`, the generic one alone when there is one. A name
 * nothing provides is skipped, as modprobe skips it.
 */
export function softdepModules(name: string, index: Map<string, string>, builtin: Set<string>, aliasesOf: (module: string) => string[]): string[] {
  const base = moduleName(name.replace(/^crypto-/, ''));
  if ([name, moduleName(name), base].some((n) => builtin.has(n))) return [];
  if (index.has(moduleName(name))) return [moduleName(name)];
  const providers = [...index.keys()].filter((m) => (m === base || m.startsWith(`${base}_`)) && aliasesOf(m).includes(name)).sort();
  const generic = providers.find((m) => m.endsWith('_generic'));
  return generic ? [generic] : providers;
}

/** Paths (relative to the modules dir) of the shim's modules, in load order (softdeps first, like modprobe). */
export function shimModulePaths(modulesDir: string, wanted: string[] = SHIM_MODULES): string[] {
  const index = indexModules(modulesDir);
  const builtinFiles = readFileSync(join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean);
  const builtin = new Set(builtinFiles.map((p) => moduleName(p.split('/').pop()!)));
  const provided = new Set([...builtin, ...builtinAliases(modulesDir)]);
  const pathOf = (name: string) => index.get(name) ?? die(`kernel module ${name} not found in ${modulesDir}`);
  const modinfo = (name: string) => readFileSync(join(modulesDir, pathOf(name)));
  const aliasesOf = (name: string) => modinfo(name).toString('latin1').split('\0').flatMap((s) => (s.startsWith('alias=') ? [s.slice(6)] : []));
  const deps = (name: string) => {
    if (builtin.has(name)) return [];
    const ko = modinfo(name);
    return [...moduleSoftdepsPre(ko).flatMap((s) => softdepModules(s, index, provided, aliasesOf)), ...moduleDepends(ko)];
  };
  return moduleLoadOrder(wanted, deps)
    .filter((name) => !builtin.has(name))
    .map(pathOf);
}

interface ShimEntry { name: string; mode: number; body?: CpioBody; rdev?: [number, number] }

function shimEntries(modulesDir: string, modules: string[], busybox: string, dmCreate: string): ShimEntry[] {
  const dir = (name: string): ShimEntry => ({ name, mode: S_IFDIR | 0o755 });
  const file = (name: string, mode: number, body: CpioBody): ShimEntry => ({ name, mode: S_IFREG | mode, body });
  const moduleDirs = new Set<string>();
  for (const m of modules) {
    const parts = `lib/modules/${m}`.split('/');
    for (let i = 1; i < parts.length; i++) moduleDirs.add(parts.slice(0, i).join('/'));
  }
  const list = modules.join('\n') + '\n';
  return [
    ...['bin', 'dev', 'etc', 'newroot', 'proc', 'sys'].map(dir),
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] },
    file('bin/busybox', 0o755, { path: busybox, size: statSync(busybox).size }),
    { name: 'bin/sh', mode: S_IFLNK | 0o777, body: Buffer.from('busybox') },
    file('bin/dm-create', 0o755, { path: dmCreate, size: statSync(dmCreate).size }),
    file('etc/shim-modules', 0o644, Buffer.from(list)),
    file('init', 0o755, Buffer.from(SHIM_INIT)),
    ...[...moduleDirs].sort().map(dir),
    ...modules.map((m) => {
      const path = join(modulesDir, m);
      return file(`lib/modules/${m}`, 0o644, { path, size: statSync(path).size });
    }),
  ];
}

/** Busybox applets: the shim calls `busybox --install` equivalents by symlink. */
const APPLETS = ['cat', 'echo', 'insmod', 'mount', 'poweroff', 'sleep', 'switch_root', 'umount'];

async function writeShim(path: string, modulesDir: string, modules: string[], busybox: string, dmCreate: string): Promise<void> {
  const entries = shimEntries(modulesDir, modules, busybox, dmCreate);
  for (const a of APPLETS) entries.push({ name: `bin/${a}`, mode: S_IFLNK | 0o777, body: Buffer.from('busybox') });
  await atomicOutput(path, async (tmp) => {
    const writer = new CpioStreamWriter(createWriteStream(tmp));
    let ino = 1;
    for (const e of entries) {
      const size = e.body === undefined ? 0 : Buffer.isBuffer(e.body) ? e.body.length : e.body.size;
      const header: NewcHeader = {
        c_ino: ino++, c_mode: e.mode, c_uid: 0, c_gid: 0, c_nlink: (e.mode & S_IFDIR) === S_IFDIR ? 2 : 1,
        c_mtime: 0, c_filesize: size, c_devmajor: 0, c_devminor: 0,
        c_rdevmajor: e.rdev?.[0] ?? 0, c_rdevminor: e.rdev?.[1] ?? 0,
      };
      await writer.add(header, e.name, e.body);
    }
    await writer.finish();
  });
}

/**
 * Path of the shim initramfs (uncompressed cpio) for `kernel`, built once and
 * cached. Another architecture's kernel gets its own module list, busybox and
 * dm-create.
 */
export async function shimInitramfs(
  kernel: DebianKernel,
  guest: { modules?: string[]; busybox?: string; arch?: Arch } = {},
): Promise<string> {
  const busybox = guest.busybox ?? BUSYBOX;
  checkStaticBusybox(busybox);
  const modules = shimModulePaths(kernel.modulesDir, guest.modules);
  const dmCreate = await dmCreateBinary(guest.arch);
  const key = createHash('sha256')
    .update(SHIM_INIT).update(APPLETS.join()).update(modules.join()).update(readFileSync(busybox)).update(readFileSync(dmCreate))
    .digest('hex').slice(0, 16);
  const path = join(kernelCacheDir(), `shim-${kernel.release}-${key}.cpio`);
  if (!existsSync(path)) await writeShim(path, kernel.modulesDir, modules, busybox, dmCreate);
  return path;
}
