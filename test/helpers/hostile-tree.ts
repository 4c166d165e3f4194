// A rootfs tree built to break builders that lose data quietly, and a
// field-by-field snapshot/compare to check an output read back against it.
//
// The tree holds: file capabilities, POSIX ACLs (access and default), SELinux
// labels (security.selinux set directly, no SELinux needed on the host), user
// and trusted xattrs on files and directories (binary values too), odd names
// (non-UTF-8, 255 bytes, space, tab, newline, $, leading : and -, quotes,
// backslash, glob characters), hard links across directories, a fifo, a
// socket, devices with large major/minor numbers, setuid/setgid/sticky bits
// (a sticky regular file too), uids/gids above 65535, mtimes before 1970 and
// after 2038 (and after 2106, beyond newc's 32 bits), symlinks with a 4095-byte
// target and a non-UTF-8 target, sparse files.
//
// Paths are bytes throughout: a snapshot is keyed by the path's bytes as a
// latin1 string (lossless), and diffs print them with escapes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, closeSync, copyFileSync, linkSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync,
  readFileSync, readlinkSync, symlinkSync, truncateSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { $ } from '../../lib/core/exec.ts';

const B = (s: string) => Buffer.from(s, 'utf8');
const cat = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? B(p) : p)));

/** Names (bytes) that are not valid UTF-8. */
export const NON_UTF8_NAMES = [Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]), Buffer.from('caf\xe9', 'latin1')];
export const ODD_NAMES = [
  'n'.repeat(255), 'with space', 'tab\there', 'new\nline', '$HOME', ':colon-first', '-dash-first', 'quote"double',
  "quote'single", 'back\\slash', 'star*?[x]', '#hash', 'ünïcødé', 'equals=sign', 'percent%s', 'semi;colon',
];

export const TIMES = {
  pre1970: -100000000, // 1966-10-31
  epoch: 0,
  post2038: 2147483648, // 2038-01-19T03:14:08, one past int32
  year2100: 4102444800,
  year2200: 7258118400, // beyond newc's unsigned 32-bit mtime
} as const;

export const LONG_TARGET = ('x'.repeat(254) + '/').repeat(16).slice(0, 4095);

export interface HostileTree {
  root: string;
  /** Relative paths (utf8) carrying xattrs other than ACLs/capabilities, ACLs and capabilities included. */
  xattrPaths: string[];
  /** Relative paths whose mtime is before 1970 / after 2106. */
  pre1970Paths: string[];
  post2106Paths: string[];
  /** Non-UTF-8 names as relative paths (bytes). */
  nonUtf8Paths: Buffer[];
}

export interface HostileOptions {
  /** Test agent binary: becomes sbin/init and usr/bin/kata-agent (hard links), so the tree passes the rootfs checks. */
  agent?: string;
  /** Apparent size of the big sparse file (default 64 MiB). */
  sparseBytes?: number;
}

function setTime(path: string, seconds: number): Promise<unknown> {
  return $`touch -h -d ${'@' + seconds} ${path}`;
}

/** Make the hostile tree at root (created; must not exist or be empty). */
export async function makeHostileTree(root: string, opts: HostileOptions = {}): Promise<HostileTree> {
  const p = (rel: string) => join(root, rel);
  for (const d of ['sbin', 'usr/bin', 'etc/acl-dir', 'etc/labels', 'names', 'dir with space', 'links/a', 'links/b', 'links/c',
    'special', 'modes', 'owners', 'times', 'symlinks', 'sparse', 'xattrs/dir', 'empty-dir', 'proc', 'sys', 'dev', 'tmp']) {
    mkdirSync(p(d), { recursive: true });
  }
  if (opts.agent) {
    copyFileSync(opts.agent, p('sbin/init'));
    chmodSync(p('sbin/init'), 0o755);
    linkSync(p('sbin/init'), p('usr/bin/kata-agent'));
  } else {
    writeFileSync(p('sbin/init'), '#!/bin/sh\nexec /usr/bin/kata-agent\n', { mode: 0o755 });
    writeFileSync(p('usr/bin/kata-agent'), '#!/bin/sh\n', { mode: 0o755 });
  }
  writeFileSync(p('etc/hostname'), 'hostile\n');
  writeFileSync(p('etc/empty'), '');

  // Extended attributes: capability, ACLs, SELinux labels, user/trusted, binary and large values.
  const xattrPaths: string[] = [];
  copyFileSync(p('usr/bin/kata-agent'), p('usr/bin/cap-net-raw'));
  chmodSync(p('usr/bin/cap-net-raw'), 0o755);
  await $`setcap cap_net_raw,cap_net_admin+ep ${p('usr/bin/cap-net-raw')}`;
  writeFileSync(p('etc/acl-file'), 'acl\n');
  await $`setfacl -m u:4242:rw,g:4343:r ${p('etc/acl-file')}`;
  await $`setfacl -d -m u:4242:rwx ${p('etc/acl-dir')}`;
  await $`setfacl -m u:100000:rx ${p('etc/acl-dir')}`;
  writeFileSync(p('etc/labels/shadow'), 'root:*:1::::::\n', { mode: 0o600 });
  await $`setfattr -n security.selinux -v ${'system_u:object_r:shadow_t:s0'} ${p('etc/labels/shadow')}`;
  await $`setfattr -n security.selinux -v ${'system_u:object_r:etc_t:s0'} ${p('etc/labels')}`;
  writeFileSync(p('xattrs/file'), 'user xattrs\n');
  await $`setfattr -n user.comment -v ${'hello world'} ${p('xattrs/file')}`;
  await $`setfattr -n user.binary -v ${'0x00ff0a0d5c22'} ${p('xattrs/file')}`;
  await $`setfattr -n user.big -v ${'0x' + 'ab'.repeat(2000)} ${p('xattrs/file')}`;
  await $`setfattr -n trusted.overlay.opaque -v y ${p('xattrs/dir')}`;
  await $`setfattr -n user.dir -v ${'on a directory'} ${p('xattrs/dir')}`;
  await $`setfattr -n user.empty ${p('xattrs/dir')}`;
  xattrPaths.push('usr/bin/cap-net-raw', 'etc/acl-file', 'etc/acl-dir', 'etc/labels', 'etc/labels/shadow', 'xattrs/dir', 'xattrs/file');

  // Odd names, as files under names/ and one nested path with spaces.
  for (const n of ODD_NAMES) writeFileSync(p(`names/${n}`), `${n.length}\n`);
  const nonUtf8Paths = NON_UTF8_NAMES.map((n) => cat('names/', n));
  for (const rel of nonUtf8Paths) writeFileSync(cat(root, '/', rel), rel);
  mkdirSync(cat(root, '/names/', NON_UTF8_NAMES[0]!, '.d'));
  nonUtf8Paths.push(cat('names/', NON_UTF8_NAMES[0]!, '.d'));
  writeFileSync(p('dir with space/file with space'), 'spaced\n');

  // Hard links across directories (2 and 3 links), one of them setuid.
  writeFileSync(p('links/a/one'), 'linked twice\n');
  linkSync(p('links/a/one'), p('links/b/two'));
  writeFileSync(p('links/a/suid'), 'linked thrice\n', { mode: 0o755 });
  chmodSync(p('links/a/suid'), 0o4755);
  linkSync(p('links/a/suid'), p('links/b/suid'));
  linkSync(p('links/a/suid'), p('links/c/suid'));

  // Special files: fifo, socket, devices with large numbers.
  await $`mkfifo -m 640 ${p('special/fifo')}`;
  makeSocket(p('special/socket'));
  await $`mknod -m 600 ${p('special/chr-4095-5')} c 4095 5`;
  await $`mknod -m 660 ${p('special/blk-259-1048575')} b 259 1048575`;
  await $`mknod -m 666 ${p('special/chr-4095-1048575')} c 4095 1048575`;
  await $`mknod -m 666 ${p('dev/null')} c 1 3`;

  // Modes.
  const modes: Record<string, number> = { setuid: 0o4755, setgid: 0o2711, 'sticky-file': 0o1644, none: 0o000, all: 0o7777 };
  for (const [n, m] of Object.entries(modes)) { writeFileSync(p(`modes/${n}`), n); chmodSync(p(`modes/${n}`), m); }
  mkdirSync(p('modes/sticky-dir')); chmodSync(p('modes/sticky-dir'), 0o1777);
  mkdirSync(p('modes/setgid-dir')); chmodSync(p('modes/setgid-dir'), 0o2775);
  chmodSync(p('tmp'), 0o1777);

  // Owners above 65535 (files, a directory, a symlink).
  writeFileSync(p('owners/big'), 'big ids\n'); lchownSync(p('owners/big'), 100000, 200000);
  writeFileSync(p('owners/huge'), 'huge ids\n'); lchownSync(p('owners/huge'), 4000000000, 4000000001);
  mkdirSync(p('owners/dir')); lchownSync(p('owners/dir'), 65536, 65537);
  symlinkSync('big', p('owners/link')); lchownSync(p('owners/link'), 70000, 70001);
  lchownSync(cat(root, '/', nonUtf8Paths[0]!), 123456, 654321);

  // Symlinks: long, non-UTF-8 target, with newline, relative, absolute, dangling.
  symlinkSync(LONG_TARGET, p('symlinks/long'));
  symlinkSync(cat('../names/', NON_UTF8_NAMES[1]!), p('symlinks/non-utf8-target'));
  symlinkSync('../names/new\nline', p('symlinks/newline-target'));
  symlinkSync('../etc/hostname', p('symlinks/relative'));
  symlinkSync('/etc/hostname', p('symlinks/absolute'));
  symlinkSync('/nowhere/at/all', p('symlinks/dangling'));
  symlinkSync(NON_UTF8_NAMES[0]!, cat(root, '/names/link-', NON_UTF8_NAMES[1]!));

  // Sparse files: data at both ends of a big hole; a file that is all hole.
  const sparseBytes = opts.sparseBytes ?? 64 << 20;
  const fd = openSync(p('sparse/big'), 'w');
  writeSync(fd, 'head');
  writeSync(fd, 'tail', sparseBytes - 4);
  closeSync(fd);
  writeFileSync(p('sparse/hole'), '');
  truncateSync(p('sparse/hole'), 16 << 20);

  // Times last: creating entries moves a directory's mtime.
  const pre1970Paths = ['times/pre1970', 'times/pre1970-link', 'times/pre1970-dir'];
  const post2106Paths = ['times/year2200'];
  for (const [n, t] of Object.entries(TIMES)) { writeFileSync(p(`times/${n}`), n); await setTime(p(`times/${n}`), t); }
  symlinkSync('pre1970', p('times/pre1970-link'));
  await setTime(p('times/pre1970-link'), TIMES.pre1970 - 1);
  mkdirSync(p('times/pre1970-dir'));
  await setTime(p('times/pre1970-dir'), TIMES.pre1970 - 2);
  mkdirSync(p('times/post2038-dir'));
  await setTime(p('times/post2038-dir'), TIMES.post2038 + 1);
  await setTime(p('times'), TIMES.year2100 + 1);
  // Paths with ACLs get an mtime far from the build's: a writer that sets the ACL after the time (or stamps the time of the copy) shows.
  for (const rel of ['etc/acl-file', 'etc/acl-dir']) await setTime(p(rel), 1000000000);
  return { root, xattrPaths, pre1970Paths, post2106Paths, nonUtf8Paths };
}

/** A unix socket node left on disk: a child binds it and exits without unlinking. */
function makeSocket(path: string): void {
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
  if (r.status !== 0) throw new Error(`cannot make socket ${path}: ${r.stderr}`);
}

// ---------------------------------------------------------------------------
// Snapshot and comparison

export interface Entry {
  path: Buffer; // relative, bytes
  type: 'f' | 'd' | 'l' | 'c' | 'b' | 'p' | 's';
  mode: number; // permission bits incl. setuid/setgid/sticky
  uid: number;
  gid: number;
  size?: number; // files and symlinks
  sha256?: string; // files
  target?: string; // symlinks: target bytes as hex
  major?: number; // devices
  minor?: number;
  mtime: number; // seconds (floor)
  nlink: number;
  /** For files with nlink > 1: the first (byte-sorted) path of its link group within the tree. */
  linkGroup?: string;
  xattrs: Record<string, string>; // name -> hex value
}
export type Snapshot = Map<string, Entry>;

const key = (rel: Buffer) => rel.toString('latin1');
/** A path for messages: printable ASCII as is, everything else escaped. */
export function showPath(k: string | Buffer): string {
  const b = typeof k === 'string' ? Buffer.from(k, 'latin1') : k;
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return s.length > 120 ? `${s.slice(0, 60)}…${s.slice(-50)} (${b.length} bytes)` : s;
}

function typeOf(mode: number): Entry['type'] {
  switch (mode & 0o170000) {
    case 0o100000: return 'f'; case 0o040000: return 'd'; case 0o120000: return 'l'; case 0o020000: return 'c';
    case 0o060000: return 'b'; case 0o010000: return 'p'; case 0o140000: return 's';
  }
  throw new Error(`unknown file type ${mode.toString(8)}`);
}

/** Every entry under root (root itself excluded), read with lstat, file contents hashed, xattrs via getfattr. */
export function snapshotTree(root: string): Snapshot {
  const snap: Snapshot = new Map();
  const inodes = new Map<bigint, string[]>();
  const walk = (rel: Buffer) => {
    const abs = rel.length ? cat(root, '/', rel) : B(root);
    for (const name of (readdirSync(abs, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) {
      const r = rel.length ? cat(rel, '/', name) : name;
      const full = cat(root, '/', r);
      const st = lstatSync(full, { bigint: true });
      const mode = Number(st.mode);
      const type = typeOf(mode);
      const rdev = st.rdev;
      const e: Entry = {
        path: r, type, mode: mode & 0o7777, uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeMs >= 0n ? st.mtimeMs / 1000n : -((-st.mtimeMs + 999n) / 1000n)),
        nlink: Number(st.nlink), xattrs: {},
      };
      if (type === 'f') { e.size = Number(st.size); e.sha256 = createHash('sha256').update(readFileSync(full)).digest('hex'); }
      if (type === 'l') { const t = readlinkSync(full, { encoding: 'buffer' }); e.size = t.length; e.target = t.toString('hex'); }
      if (type === 'c' || type === 'b') {
        e.major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
        e.minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
      }
      if (type === 'f' && e.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), key(r)]);
      snap.set(key(r), e);
      if (type === 'd') walk(r);
    }
  };
  walk(Buffer.alloc(0));
  for (const group of inodes.values()) {
    const first = group.sort()[0]!;
    for (const k of group) snap.get(k)!.linkGroup = first;
  }
  for (const [k, attrs] of readXattrs(root)) {
    const e = snap.get(k);
    if (e) e.xattrs = attrs;
  }
  return snap;
}

/** getfattr -R output parsed as bytes: `# file: ./path` (octal escapes for \, newline, control chars) then name=0xhex lines. */
function readXattrs(root: string): Map<string, Record<string, string>> {
  const r = spawnSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: root, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`getfattr failed in ${root}: ${r.stderr.toString()}`);
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  let start = 0;
  const buf = r.stdout;
  while (start < buf.length) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    const line = buf.subarray(start, end);
    start = end + 1;
    if (line.subarray(0, 8).toString('latin1') === '# file: ') {
      const rel = unescapeOctal(line.subarray(8));
      const k = key(rel.subarray(rel[0] === 0x2e && rel[1] === 0x2f ? 2 : 0));
      cur = {};
      out.set(k, cur);
    } else if (line.length && cur) {
      const s = line.toString('latin1');
      const eq = s.indexOf('=');
      if (eq < 0) cur[s] = '';
      else cur[s.slice(0, eq)] = s.slice(eq + 1).replace(/^0x/, '');
    }
  }
  return out;
}

function unescapeOctal(b: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x5c && i + 3 < b.length && /^[0-7]{3}$/.test(b.subarray(i + 1, i + 4).toString('latin1'))) {
      out.push(Number.parseInt(b.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else out.push(b[i]!);
  }
  return Buffer.from(out);
}

export interface CompareOptions {
  /** How mtimes are expected to come back: exact (default), not compared, or clamped into [min, max]. */
  mtime?: 'exact' | 'ignore' | { min?: number; max?: number };
  /** Compare xattrs (default true). */
  xattrs?: boolean;
  /** Compare hard-link groups (default true). */
  hardlinks?: boolean;
  /** Keys (latin1 path strings) or a predicate for entries to skip on both sides (e.g. lost+found, etc/machine-id). */
  skip?: (k: string) => boolean;
  /** Compare directory mtimes (default true; builders that add files to a directory change its mtime). */
  dirMtimes?: boolean;
  /** Entry types whose mtimes the reader cannot restore (GNU cpio -idm: directories, symlinks); checked another way. */
  mtimeSkipTypes?: Entry['type'][];
}

/** Every difference between the tree's snapshot and an output's readback, one line each ([] = identical). */
export function compareSnapshots(expected: Snapshot, actual: Snapshot, opts: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  const skip = opts.skip ?? (() => false);
  const mt = opts.mtime ?? 'exact';
  for (const [k, e] of expected) {
    if (skip(k)) continue;
    const a = actual.get(k);
    const name = showPath(k);
    if (!a) { diffs.push(`missing ${name}`); continue; }
    const fields = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'target', 'major', 'minor'] as const;
    for (const f of fields) {
      if (f === 'size' && e.type === 'd') continue;
      if (e[f] !== a[f]) diffs.push(`${name}: ${f} ${fmt(f, e[f])} != ${fmt(f, a[f])}`);
    }
    if (mt !== 'ignore' && (e.type !== 'd' || opts.dirMtimes !== false) && !opts.mtimeSkipTypes?.includes(e.type)) {
      const want = mt === 'exact' ? e.mtime : Math.min(Math.max(e.mtime, mt.min ?? -Infinity), mt.max ?? Infinity);
      if (a.mtime !== want) diffs.push(`${name}: mtime ${want} != ${a.mtime}`);
    }
    if (opts.hardlinks !== false && (e.linkGroup ?? '') !== (a.linkGroup ?? '')) {
      diffs.push(`${name}: hard-linked with ${showPath(e.linkGroup ?? '(none)')} != ${showPath(a.linkGroup ?? '(none)')}`);
    }
    if (opts.xattrs !== false) {
      for (const n of new Set([...Object.keys(e.xattrs), ...Object.keys(a.xattrs)])) {
        if (e.xattrs[n] !== a.xattrs[n]) diffs.push(`${name}: xattr ${n} ${short(e.xattrs[n])} != ${short(a.xattrs[n])}`);
      }
    }
  }
  for (const k of actual.keys()) if (!skip(k) && !expected.has(k)) diffs.push(`unexpected ${showPath(k)}`);
  return diffs;
}

const short = (hex?: string) => (hex === undefined ? '(absent)' : hex.length > 40 ? `${hex.slice(0, 40)}…(${hex.length / 2} bytes)` : `0x${hex}`);
function fmt(f: string, v: unknown): string {
  if (v === undefined) return '(none)';
  if (f === 'mode') return (v as number).toString(8);
  if (f === 'target') return showPath(Buffer.from(v as string, 'hex'));
  return String(v);
}

/** Paths (keys) of entries with any xattr, for checking what a lossy format says it dropped. */
export function pathsWithXattrs(snap: Snapshot): string[] {
  return [...snap].filter(([, e]) => Object.keys(e.xattrs).length).map(([k]) => k);
}

/** ctime and link count of every path under root: a builder that only reads leaves them as they were. */
export function inodeStamps(root: string): string {
  const lines: string[] = [];
  const walk = (dir: Buffer) => {
    for (const n of readdirSync(dir, { encoding: 'buffer' })) {
      const p = Buffer.concat([dir, Buffer.from('/'), n]);
      const st = lstatSync(p, { bigint: true });
      lines.push(`${p.toString('hex')} ${st.ctimeNs} ${st.nlink}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(Buffer.from(root));
  return lines.sort().join('\n');
}
