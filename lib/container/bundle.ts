// The script a build container runs: a stage of this project bundled on the
// host with esbuild into one ESM file for the distro's own Node (Debian
// bookworm ships Node 18), so the container needs neither our node_modules
// nor tsx — only the `nodejs` package of its distro.
//
// Each project module keeps its own `import.meta.url`, rewritten to where the
// project is mounted in the container, so paths computed from it (the
// distro folders, the script dir) point into that mount and `isMain()` of the
// bundled scripts stays false: the generated entry calls `runMain` itself.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** Node release of the oldest distro `nodejs` package the stage must run on. */
export const STAGE_NODE_TARGET = 'node18';

/** A project `.ts` file as it is seen at `mountedAt` (pure). */
export function mountedUrl(projectDir: string, file: string, mountedAt: string): string {
  return pathToFileURL(join(mountedAt, relative(projectDir, file))).href;
}

/** Replace `import.meta.url` in a module's source by its URL in the container (pure). */
export function withMountedImportMetaUrl(source: string, url: string): string {
  return source.replace(/\bimport\.meta\.url\b/g, JSON.stringify(url));
}

function mountedImportMeta(projectDir: string, mountedAt: string): Plugin {
  // esbuild filters are Go regexps (no lookahead): node_modules is skipped in the callback.
  const inProject = new RegExp(`^${projectDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/.*\\.ts$`);
  return {
    name: 'mounted-import-meta',
    setup(b) {
      b.onLoad({ filter: inProject }, (args) =>
        args.path.includes('/node_modules/')
          ? undefined
          : {
              contents: withMountedImportMetaUrl(readFileSync(args.path, 'utf8'), mountedUrl(projectDir, args.path, mountedAt)),
              loader: 'ts',
            });
    },
  };
}

export interface StageBundle {
  /** Source of the entry module (imports resolved from the project dir). */
  entry: string;
  projectDir: string;
  /** Where the project is mounted inside the container. */
  mountedAt: string;
  outFile: string;
}

// The CycloneDX library's optional XML plug-ins: loaded in a try by the
// library, not installed, and never used (the SBOMs are JSON).
const OPTIONAL_EXTERNALS = ['xmlbuilder2', 'libxmljs2'];

// CommonJS dependencies (minimist...) call require(): give the ESM bundle one.
const REQUIRE_SHIM = "import { createRequire as __osbCreateRequire } from 'node:module';\nconst require = __osbCreateRequire(import.meta.url);";

/** Write the bundle to `outFile`. */
export async function bundleStage(b: StageBundle): Promise<void> {
  const projectDir = resolve(b.projectDir);
  const result = await build({
    stdin: { contents: b.entry, resolveDir: projectDir, sourcefile: 'stage-entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: STAGE_NODE_TARGET,
    banner: { js: REQUIRE_SHIM },
    external: OPTIONAL_EXTERNALS,
    plugins: [mountedImportMeta(projectDir, b.mountedAt)],
    write: false,
    logLevel: 'silent',
  });
  writeFileSync(b.outFile, result.outputFiles[0]!.contents);
}
