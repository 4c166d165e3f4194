// Unpacking a tarball named by a setting (AGENT_TARBALL, the guest tarballs)
// at the root of a guest tree, with one reader that both judges and writes
// (no GNU tar). Pass 1 reads the whole archive (tar-read.ts), places every
// entry in a model of the tree (tar-place.ts) and spools file data into a
// scratch directory inside the tree; anything refused stops it before the
// tree is touched. Pass 2 re-checks each placement against the disk and
// writes: files renamed from the spool, links and nodes made under a temporary
// name beside their place then renamed, so no entry is ever half there.
import { closeSync, existsSync, lstatSync, openSync, statSync, writeSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { dirname, join } from 'node:path';
import { $ } from '../core/exec.ts';
import { BuildError, die, step } from '../core/log.ts';
import { removeStaleTemps } from '../core/stale-temps.ts';
import { diskView, ModelView, nameParts, placeEntry, PlaceRefusal, type Placement } from './tar-place.ts';
import { readTar, tarBytes, tarCompression, TarRefusal, type TarCompression, type TarEntry } from './tar-read.ts';

/** A tarball named by a setting. */
export interface Tarball {
  variable: string;
  path: string;
  compression: TarCompression;
}

interface Planned {
  entry: TarEntry;
  place: Placement;
  /** The spooled data of a regular file. */
  spool?: string;
}

const FIX = 'rebuild the tarball with tar, paths relative to the rootfs root';

/** A message with the archive's names in it, on one line whatever bytes they hold. */
function oneLine(msg: string): string {
  return msg.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function refuse(tarball: Tarball, entry: string | undefined, why: string): never {
  // Header-level refusals name the header's place ("the header at byte N ...") instead of an entry.
  const what = entry === undefined ? '' : entry.startsWith('the header at byte ') ? `: ${entry}` : `: entry ${entry}`;
  return die(oneLine(`${tarball.variable}=${tarball.path}${what} ${why}; nothing was unpacked: ${FIX}`));
}

/** Read the whole archive and place every entry; with `spoolDir`, file data is kept there. */
async function planArchive(tarball: Tarball, root: string | undefined, spoolDir?: string): Promise<Planned[]> {
  const model = new ModelView(root);
  const plan: Planned[] = [];
  let fd: number | undefined;
  let spooled = 0;
  let lastBucket = '';
  try {
    await readTar(tarBytes(tarball.path, tarball.compression), (entry) => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      const parts = nameParts(entry.name, entry.kind === 'dir');
      if (typeof parts === 'string') throw new TarRefusal(entry.name, parts);
      let linkParts: string[] | undefined;
      if (entry.kind === 'hardlink') {
        const t = nameParts(entry.linkName, false, 'link target');
        if (typeof t === 'string') throw new TarRefusal(entry.name, `is a hard link that ${t}`);
        linkParts = t;
      }
      if (entry.kind === 'symlink' && (entry.linkName === '' || entry.linkName.length > 4000)) throw new TarRefusal(entry.name, 'is a symlink with an empty or overlong target');
      let place: Placement;
      try {
        place = placeEntry(model, entry, parts, linkParts);
      } catch (e) {
        if (e instanceof PlaceRefusal) throw new TarRefusal(entry.name, e.message);
        throw e;
      }
      model.apply(place, entry);
      const planned: Planned = { entry, place };
      plan.push(planned);
      if (entry.kind !== 'file' || !spoolDir) return undefined;
      // Spool files spread over subdirectories: one directory of tens of thousands of new names is slow to create in.
      const bucket = join(spoolDir, String(++spooled >> 8));
      if (bucket !== lastBucket) fx.mkdir((lastBucket = bucket));
      planned.spool = join(bucket, String(spooled));
      fd = openSync(planned.spool, 'wx', 0o600);
      const out = fd;
      return (chunk) => {
        for (let at = 0; at < chunk.length; ) at += writeSync(out, chunk, at);
      };
    });
  } catch (e) {
    if (e instanceof TarRefusal) refuse(tarball, e.entry, e.why);
    if (e instanceof BuildError) throw e;
    const err = e as NodeJS.ErrnoException;
    die(`${tarball.variable}=${tarball.path}: cannot spool its data into ${spoolDir} (${err.code ?? err.message}); nothing was unpacked: free space there or check its permissions`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return plan;
}

/** Check a tarball named by a setting before the build starts: readable, tar, every entry placed inside `root` (an existing tree) or an empty one. */
export async function checkTarball(variable: string, path: string, root?: string): Promise<Tarball> {
  if (!existsSync(path) || !statSync(path).isFile()) die(`${variable}=${path} is not a file: give the path of a .tar.zst, .tar.gz or .tar`);
  const tarball = { variable, path, compression: tarCompression(path, variable) };
  await planArchive(tarball, root);
  return tarball;
}

let tempSerial = 0;
const tempBeside = (path: string) => join(dirname(path), `.osbuilder-tmp-${process.pid}-${++tempSerial}`);

/** Owner, mode and times of a new file, directory or node (chown first: it clears setuid). */
function setMeta(path: string, e: TarEntry, link = false): void {
  if (link) {
    fx.lchown(path, e.uid, e.gid);
    fx.touch(path, e.mtime, e.mtime, true);
    return;
  }
  fx.chown(path, e.uid, e.gid);
  fx.chmod(path, e.mode);
  fx.touch(path, e.mtime, e.mtime);
}

/** Make `tmp` into what the entry is, then rename it to `dest` (replacing a non-directory, never following it). */
async function putEntry(p: Planned, root: string, dest: string): Promise<void> {
  const e = p.entry;
  if (e.kind === 'file') {
    setMeta(p.spool!, e);
    try {
      fx.rename(p.spool!, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      const tmp = tempBeside(dest); // another filesystem mounted in the tree
      fx.copy(p.spool!, tmp);
      setMeta(tmp, e);
      fx.rename(tmp, dest);
    }
    return;
  }
  const tmp = tempBeside(dest);
  if (e.kind === 'hardlink') {
    const target = join(root, p.place.target!);
    const there = lstatSync(dest, { throwIfNoEntry: false });
    if (there && there.ino === lstatSync(target).ino && there.dev === lstatSync(target).dev) return;
    fx.link(target, tmp);
  } else if (e.kind === 'symlink') {
    fx.symlink(e.linkName, tmp);
  } else {
    const type = e.kind === 'fifo' ? ['p'] : [e.kind === 'char' ? 'c' : 'b', String(e.devMajor), String(e.devMinor)];
    await $`mknod ${tmp} ${type}`;
  }
  try {
    if (e.kind !== 'hardlink') setMeta(tmp, e, e.kind === 'symlink');
    fx.rename(tmp, dest);
  } catch (err) {
    fx.remove(tmp, { force: true });
    throw err;
  }
}

/** Pass 2: each placement checked against the disk again, then written. */
async function writePlan(tarball: Tarball, root: string, plan: Planned[]): Promise<void> {
  const disk = diskView(root);
  const newDirs: [string, TarEntry][] = [];
  for (const p of plan) {
    const e = p.entry;
    const parts = nameParts(e.name, e.kind === 'dir') as string[];
    const linkParts = e.kind === 'hardlink' ? (nameParts(e.linkName, false) as string[]) : undefined;
    let now: Placement;
    try {
      now = placeEntry(disk, e, parts, linkParts);
    } catch (err) {
      if (!(err instanceof PlaceRefusal)) throw err;
      now = { ...p.place, op: 'keep', rel: `(refused: ${err.message})` };
    }
    if (JSON.stringify(now) !== JSON.stringify(p.place)) {
      die(oneLine(`${tarball.variable}=${tarball.path}: entry ${e.name}: the tree ${root} changed while it was unpacked (another process writing there?); the entries before it are unpacked: rebuild the rootfs`));
    }
    const dest = join(root, p.place.rel);
    try {
      for (const dir of p.place.mkdirs) fx.mkdir(join(root, dir), 0o755);
      if (p.place.op === 'dir') {
        if (p.place.replaces) fx.unlink(dest);
        fx.mkdir(dest, 0o700);
        fx.chown(dest, e.uid, e.gid);
        newDirs.push([dest, e]);
      } else if (p.place.op !== 'keep') {
        await putEntry(p, root, dest);
      }
    } catch (err) {
      if (err instanceof BuildError) throw err;
      const x = err as NodeJS.ErrnoException;
      die(oneLine(`${tarball.variable}=${tarball.path}: entry ${e.name} could not be written to ${dest} (${x.code ?? x.message}); the entries before it are unpacked: free space or fix ${root}, then rebuild`));
    }
  }
  // Directory modes and times last: writing into a directory changes its mtime, and a read-only mode would stop the writes.
  for (const [dir, e] of newDirs.reverse()) {
    fx.chmod(dir, e.mode);
    fx.touch(dir, e.mtime, e.mtime);
  }
}

/** Unpack at the root of `root`: every entry checked and placed inside the tree before the first write. */
export async function unpackTarball(root: string, tarball: Tarball): Promise<void> {
  await step(`Unpacking ${tarball.variable} ${tarball.path}`, async () => {
    if (fx.planning) fx.note(`# unpack ${tarball.path} ${root}`);
    else await unpackArchive(root, tarball);
  });
}

/** The spool's name in the tree's root, before the PID of the run that owns it. */
const SPOOL_PREFIX = '.osbuilder-unpack-';

/** unpackTarball without the step's log lines. */
export async function unpackArchive(root: string, tarball: Tarball): Promise<void> {
  // An existing tree (overlay mode, a mount point) may hold the spool of a run that was killed.
  await removeStaleTemps(root, SPOOL_PREFIX);
  let spoolDir: string;
  try {
    spoolDir = fx.mkdtemp(join(root, `${SPOOL_PREFIX}${process.pid}-`));
  } catch (e) {
    return die(`${tarball.variable}=${tarball.path} cannot be unpacked into ${root} (${(e as NodeJS.ErrnoException).code}); nothing was unpacked: check that directory`);
  }
  try {
    await writePlan(tarball, root, await planArchive(tarball, root, spoolDir));
  } finally {
    fx.remove(spoolDir, { recursive: true, force: true });
  }
}
