// Runs a project script (rootfs.ts, image.ts, initrd.ts) as the Makefile
// does: from one ESM bundle of it, made with esbuild on first use and kept
// per user (${XDG_CACHE_HOME:-~/.cache}/osbuilder-ts/bundles), keyed by the
// Node version and every project source file's name, size and mtime. A run
// from the bundle skips tsx's start-up, which compiles each module on its
// loader thread (about 0.4 s a script here; README "Layout").
// Where no bundle can be made or kept (no writable cache dir...), the script
// runs under tsx as before. Plain JavaScript: it runs before any loader.
// Usage: node scripts/launch.mjs SCRIPT.ts [ARGS...]
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const launcher = fileURLToPath(import.meta.url);
const projectDir = realpathSync(join(launcher, '../..'));
const debug = /^(1|yes|true|on)$/i.test(process.env.DEBUG ?? '');
const note = (text) => debug && process.stderr.write(`DEBUG: launch: ${text}\n`);

if (!process.argv[2]) {
  process.stderr.write('ERROR: no script given: node scripts/launch.mjs SCRIPT.ts [ARGS...]\n');
  process.exit(2);
}
const script = realpathSync(resolve(process.argv[2]));

/** The files a bundle is made from: the top-level scripts, lib/, the distro folders, the package files. */
function sourceFiles() {
  const files = [launcher];
  const walk = (dir, deep) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory() && deep && !e.name.startsWith('.')) walk(path, deep);
      else if (e.isFile() && /\.(ts|json)$/.test(e.name)) files.push(path);
    }
  };
  walk(projectDir, false);
  walk(join(projectDir, 'lib'), true);
  for (const d of readdirSync(join(projectDir, 'rootfs'), { withFileTypes: true })) if (d.isDirectory()) walk(join(projectDir, 'rootfs', d.name), false);
  files.push(join(projectDir, 'node_modules/.package-lock.json'));
  return files;
}

function bundleKey() {
  const h = createHash('sha256').update(`${process.version}\n`);
  for (const f of sourceFiles().sort()) {
    const st = statSync(f, { throwIfNoEntry: false });
    h.update(`${relative(projectDir, f)}\0${st?.size ?? -1}\0${st?.mtimeMs ?? -1}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

function cacheDir() {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'osbuilder-ts', 'bundles');
}

/** tsx's loader, for making a bundle or running without one. */
let tsxRegistered = false;
async function registerTsx() {
  if (tsxRegistered) return;
  tsxRegistered = true;
  const { register } = await import(pathToFileURL(join(projectDir, 'node_modules/tsx/dist/esm/api/index.mjs')).href);
  register();
}

/** The bundle's path, made first when missing; undefined when it cannot be. */
async function bundle() {
  const dir = cacheDir();
  const prefix = `${basename(script, '.ts')}-${createHash('sha256').update(projectDir).digest('hex').slice(0, 8)}-`;
  const name = `${prefix}${bundleKey()}.mjs`;
  const file = join(dir, name);
  let tmp;
  try {
    if (statSync(file, { throwIfNoEntry: false })?.isFile()) return file;
    mkdirSync(dir, { recursive: true });
    tmp = mkdtempSync(join(dir, `.${name}.`));
    await registerTsx();
    const { bundleScript } = await import(pathToFileURL(join(projectDir, 'lib/container/bundle.ts')).href);
    await bundleScript({ script, projectDir, outFile: join(tmp, name) });
    // The map first: a bundle in place always has its map.
    renameSync(join(tmp, `${name}.map`), `${file}.map`);
    renameSync(join(tmp, name), file);
    for (const old of readdirSync(dir)) {
      if (old.startsWith(prefix) && old !== name && old !== `${name}.map`) rmSync(join(dir, old), { force: true });
    }
    note(`made ${file}`);
    return file;
  } catch (e) {
    note(`no bundle of ${script}: running it under tsx: ${e instanceof Error ? `${e.message}${e.errors ? ` ${JSON.stringify(e.errors.map((x) => x.text))}` : ''}` : e}`);
    return undefined;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

const file = script.startsWith(`${projectDir}/`) ? await bundle() : undefined;
// As `tsx SCRIPT ARGS`: the script sees itself as argv[1]; a re-run of it
// (the rootless user namespace) goes through this launcher again.
process.argv.splice(1, 2, script);
globalThis[Symbol.for('osbuilder-ts.launcher')] = launcher;
if (file) {
  if (debug) process.setSourceMapsEnabled(true);
  await import(pathToFileURL(file).href);
} else {
  await registerTsx();
  await import(pathToFileURL(script).href);
}
