// The SBOM beside an image or initrd (<output>.cdx.json): the rootfs SBOM the
// tree carries, with the output file as the described component: its sha256,
// size and, for MEASURED_ROOTFS, the dm-verity parameters (root hash, salt) —
// what an attestation policy compares against.
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { basename, join } from 'node:path';
import { stageOutput } from '../core/atomic-write.ts';
import { sha256OfSparseFile } from '../core/sparse-hash.ts';
import { info } from '../core/log.ts';
import { outputSbomPath, ROOTFS_SBOM_PATH } from './paths.ts';
import { withDerivedSerial } from './serial.ts';

export const OUTPUT_REF = 'output';

export interface OutputFacts {
  /** Final path of the output. */
  output: string;
  /** The finished temp file before its rename (hashed unless `sha256` is given). */
  file: string;
  /** The file's sha256, when its bytes passed through the writer (no second read). */
  sha256?: string;
  kind: 'disk-image' | 'initrd';
  /** root_hash_<variant>.txt's line (root_hash=…,salt=…,…) for MEASURED_ROOTFS. */
  verityLine?: string;
  epoch?: number;
  /** Output settings worth recording (fs type, compression...). */
  settings?: Record<string, string>;
}

/** key=value pairs of the root hash file's line. */
export function parseVerityLine(line: string): Record<string, string> {
  return Object.fromEntries(line.trim().split(',').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
  }));
}

type Json = Record<string, any>;

const byString = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** The rootfs SBOM text the tree carries; built from its package database when it has none. */
async function rootfsSbomText(rootfs: string, epoch: number | undefined): Promise<string> {
  const file = join(rootfs, ROOTFS_SBOM_PATH);
  let isFile = false;
  try {
    isFile = lstatSync(file).isFile();
  } catch {
    /* absent */
  }
  if (isFile) return readFileSync(file, 'utf8');
  // A tree not built by rootfs.ts: describe what its package database says (loaded only here).
  const [{ readInstalledPackages }, { rootfsBomJson }, { readOsRelease }] = await Promise.all([
    import('./database.ts'), import('./bom.ts'), import('./os-release.ts'),
  ]);
  const packages = await readInstalledPackages(rootfs);
  const os = readOsRelease(rootfs);
  info(`${rootfs} has no /${ROOTFS_SBOM_PATH} (not built by rootfs.ts): the SBOM lists ${packages ? `the ${packages.packages.length} packages of /${packages.database}` : 'no packages (no package database found)'} and no agent`);
  return rootfsBomJson({ distroId: os.id ?? 'unknown', distroVersion: os.versionId ?? '', arch: '', osbuilderVersion: 'unknown', inputs: [], ...(packages ? { packages } : {}), ...(epoch !== undefined ? { epoch } : {}) });
}

/** The output SBOM document as JSON text (reproducible: sorted, serial derived). */
export function outputSbomJson(rootfsSbom: string, facts: OutputFacts, sha256: string, bytes: number): string {
  const doc: Json = JSON.parse(rootfsSbom);
  const rootfs: Json = doc.metadata?.component;
  const props: [string, string][] = [
    ['osbuilder:output:kind', facts.kind],
    ['osbuilder:output:bytes', String(bytes)],
    ...Object.entries(facts.settings ?? {}).map(([k, v]): [string, string] => [`osbuilder:output:${k}`, v]),
    ...Object.entries(facts.verityLine ? parseVerityLine(facts.verityLine) : {}).map(([k, v]): [string, string] => [`osbuilder:verity:${k}`, v]),
  ];
  doc.metadata.component = {
    type: 'file',
    name: basename(facts.output),
    'bom-ref': OUTPUT_REF,
    description: facts.kind === 'initrd' ? 'Kata Containers guest initrd' : 'Kata Containers guest disk image',
    hashes: [{ alg: 'SHA-256', content: sha256 }],
    properties: props.sort(byString(([k]) => k)).map(([name, value]) => ({ name, value })),
  };
  if (facts.epoch !== undefined) doc.metadata.timestamp = new Date(facts.epoch * 1000).toISOString();
  else doc.metadata.timestamp = new Date().toISOString();
  if (rootfs) {
    doc.components = [...(doc.components ?? []), rootfs].sort(byString((c: Json) => String(c['bom-ref'] ?? c.name)));
    doc.dependencies = [...(doc.dependencies ?? []), { ref: OUTPUT_REF, dependsOn: [rootfs['bom-ref']] }].sort(byString((d: Json) => String(d.ref)));
  }
  delete doc.serialNumber;
  return withDerivedSerial((serial) => `${JSON.stringify({ ...doc, serialNumber: serial }, null, 2)}\n`);
}

/**
 * Write the output's SBOM as a temp file beside it; `commit` moves it into
 * place (call it right after the output's own rename), so a failed build
 * leaves neither.
 */
export async function stageOutputSbom(rootfs: string, facts: OutputFacts): Promise<{ path: string; commit: () => void }> {
  const path = outputSbomPath(facts.output);
  const staged = await stageOutput(path);
  // The hashing is the cost (bench/image-hash.ts); an image's holes are not read.
  const sha256 = facts.sha256 ?? (await sha256OfSparseFile(facts.file));
  fx.write(staged.tmp, outputSbomJson(await rootfsSbomText(rootfs, facts.epoch), facts, sha256, statSync(facts.file).size));
  return {
    path,
    commit: () => {
      staged.commit();
      info(`SBOM written: ${path}`);
    },
  };
}
