// Build a Kata disk image from a rootfs directory: size it, lay out the
// partition table(s) and PFN block, fill the root partition in place, add the
// dm-verity tree, and move the finished file into place. Importable as is, so
// a container build can run the same function.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsync, fsyncSync, ftruncateSync, openSync, realpathSync, statSync, writeSync } from 'node:fs';
import { fx } from '../core/effects.ts';
import { type StagedOutput, stageOutput } from '../core/atomic-write.ts';
import { basename, dirname, join } from 'node:path';
import { onCleanup } from '../core/cli.ts';
import { $ } from '../core/exec.ts';
import { buildExt4, checkExt4CanHold } from './ext4.ts';
import type { XfsRoute } from './xfs.ts';
import type { FsBuild, FsIds, FsType } from './fs.ts';
import { DAX_ALIGNMENT_MB, DAX_HEADER_MB, fittingImageMb, imageLayout, MiB, ROOTFS_START_MB, type ImageLayout } from './layout.ts';
import { checkRootfs } from './rootfs-check.ts';
import { ext4AvailableMb, ext4Needs, ext4ShortBlocks, fitImageMb, imageMbFor, requiredDiskMb, SIZE_INCREMENT_MB, SIZE_TRIES } from './size.ts';
import { diskUsageBytes, walkRootfs, type RootfsTree } from './tree.ts';
import { XFS_MIN_MB, xfsAvailableBlocks, xfsAvailableMb, xfsNeedsBlocks } from './xfs-size.ts';
import { die, info, ok, step } from '../core/log.ts';
import { mbrSector } from './mbr.ts';
import { PFN_INFO_OFFSET, pfnInfoBlock } from './pfn.ts';
import { removeStaleTemps } from '../core/stale-temps.ts';
import { stageOutputSbom } from '../sbom/output.ts';

export interface ImageOptions {
  rootfs: string;
  image: string;
  fsType: FsType;
  blockSize: number;
  rootFreeSpaceMb: number;
  agentInit: 'yes' | 'no';
  daxHeader: boolean;
  measured: boolean;
  alignmentMb: number;
  nsdaxBin?: string;
  buildVariant: string;
  /** SOURCE_DATE_EPOCH: reproducible output. */
  epoch?: number;
  skipRootfsCheck?: boolean;
}

export interface ImageResult {
  image: string;
  imageBytes: number;
  layout: ImageLayout;
  rootHashFile?: string;
}

/** Ids derived from what goes into the image, for reproducible builds. */
export function reproducibleIds(tree: RootfsTree, opts: Pick<ImageOptions, 'fsType' | 'blockSize' | 'epoch' | 'daxHeader' | 'measured'>): { ids: FsIds; diskSignature: number; salt: Buffer } {
  const h = createHash('sha256');
  h.update(JSON.stringify([opts.fsType, opts.blockSize, opts.epoch, opts.daxHeader, opts.measured, tree.addMachineId]));
  for (const e of tree.entries) {
    // The mtime as the image stores it: clamped to the epoch, so a tree
    // touched after it still gives the same ids.
    const mtime = opts.epoch !== undefined ? Math.min(e.mtimeSec, opts.epoch) : e.mtimeSec;
    h.update(e.path);
    h.update(`\0${e.type}\0${e.perm}\0${e.uid}\0${e.gid}\0${e.size}\0${mtime}\0`);
    h.update(e.targetBytes ?? '');
    h.update(`\0${e.rdev}\n`);
  }
  const d = h.digest();
  const uuid = (b: Buffer) => {
    const x = Buffer.from(b.subarray(0, 16));
    x[6] = (x[6]! & 0x0f) | 0x40; // version 4 layout, content-derived
    x[8] = (x[8]! & 0x3f) | 0x80;
    const s = x.toString('hex');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  };
  const d2 = createHash('sha256').update(d).update('hash_seed').digest();
  const salt = createHash('sha256').update(d).update('verity salt').digest();
  return { ids: { uuid: uuid(d), hashSeed: uuid(d2) }, diskSignature: d.readUInt32LE(16), salt };
}

/** fsync `path` on libuv's thread pool; queued at once, so work on this thread overlaps it. */
function syncFile(path: string): Promise<void> {
  const fd = openSync(path, 'r+');
  return new Promise((resolve, reject) => fsync(fd, (e) => {
    closeSync(fd);
    if (e) reject(e);
    else resolve();
  }));
}

function writeAt(fd: number, buf: Buffer, offset: number): void {
  writeSync(fd, buf, 0, buf.length, offset);
}

/** Size in MiB for ext4/xfs: upstream's pick, grown once by the shortfall if the tree would not fit. */
async function diskImageMb(tree: RootfsTree, o: ImageOptions, scratch: string, xfsRoute?: XfsRoute): Promise<number> {
  const duMb = Math.ceil(diskUsageBytes(tree.entries) / MiB);
  const avail = o.fsType === 'ext4'
    ? (bytes: number) => ext4AvailableMb(bytes, o.blockSize)
    : (bytes: number) => xfsAvailableMb(bytes, o.blockSize, scratch);
  // Small trees: upstream cannot format xfs below 300 MiB and gives up; keep looking instead.
  const tries = o.fsType === 'xfs' ? SIZE_TRIES + Math.ceil(XFS_MIN_MB / SIZE_INCREMENT_MB) : SIZE_TRIES;
  const diskMb = (await requiredDiskMb(duMb, avail, tries, o.measured)) ?? die(`could not find a disk size for a ${duMb} MiB rootfs in ${SIZE_TRIES} tries, as upstream`);
  const startMb = fittingImageMb(imageMbFor(diskMb, o), o, o.alignmentMb);
  const rootBytes = (imageMb: number) => imageLayout({ imageMb, daxHeader: o.daxHeader, measured: o.measured }).root.bytes;
  const extra = tree.addMachineId ? 1 : 0;
  let short: (imageMb: number) => number | Promise<number>;
  if (o.fsType === 'ext4') {
    const needs = ext4Needs(tree.entries, o.blockSize, extra);
    short = (imageMb) => ext4ShortBlocks(needs, rootBytes(imageMb), o.blockSize);
  } else {
    const needs = xfsNeedsBlocks(tree.entries, o.blockSize, { keepsHoles: xfsRoute!.keepsHoles, xattrFiles: xfsRoute!.xattrFiles, extraFiles: extra });
    short = async (imageMb) => needs - (await xfsAvailableBlocks(rootBytes(imageMb), o.blockSize, scratch));
  }
  const imageMb = fittingImageMb(await fitImageMb(startMb, o.alignmentMb, o.blockSize, short), o, o.alignmentMb);
  if (imageMb > startMb) info(`the rootfs needs more than ${startMb} MiB in ${o.fsType}; the image is ${imageMb} MiB`);
  return imageMb;
}

/**
 * The erofs image size upstream derives from the built filesystem: the
 * filesystem plus 1 MiB, rounded down, plus the 1 MiB in front and 1 more;
 * measured, scaled by 100/99 (+1) so p1 (99%) still holds it. Not aligned,
 * but for the DAX header's 2 MiB pages (fittingImageMb).
 */
export function erofsImageMb(fsBytes: number, o: Pick<ImageOptions, 'daxHeader' | 'measured'>): number {
  let innerMb = Math.floor((fsBytes + MiB) / MiB) + 1 + ROOTFS_START_MB;
  if (o.measured) innerMb = Math.floor((innerMb * 100) / 99) + 1;
  return fittingImageMb(innerMb + (o.daxHeader ? DAX_HEADER_MB : 0), o);
}

export async function buildImage(opts: ImageOptions): Promise<ImageResult> {
  const o = { ...opts, rootfs: realpathSync(opts.rootfs) }; // as upstream's readlink -f: a linked rootfs is walked, not the link
  if (!o.skipRootfsCheck) checkRootfs(o.rootfs, o.agentInit);
  if (o.fsType === 'erofs' && o.blockSize !== 4096) die(`BLOCK_SIZE=${o.blockSize} is not valid for erofs: use 4096`);
  const outDir = dirname(o.image);
  await removeStaleTemps(outDir, `.${basename(o.image)}.build-`);
  const scratch = fx.mkdtemp(join(outDir, `.${basename(o.image)}.build-${process.pid}-`));
  const dropScratch = onCleanup(() => fx.remove(scratch, { recursive: true, force: true }));
  const staged = await stageOutput(o.image);
  const tmpImage = staged.tmp;
  try {
    const tree = await step('Reading the rootfs tree', async () => walkRootfs(o.rootfs));
    const fixed = o.epoch !== undefined ? reproducibleIds(tree, o) : undefined;
    const erofsFile = join(scratch, 'erofs.img');
    // The erofs, xfs and dm-verity modules are loaded only when used: the
    // default ext4 image is most builds, and each module costs start-up time.
    const xfs = o.fsType === 'xfs' ? await import('./xfs.ts') : undefined;
    const route = xfs ? await xfs.xfsRoute(tree) : undefined;
    if (o.fsType === 'ext4') checkExt4CanHold(tree, o.epoch);
    let imageMb: number;
    if (o.fsType === 'erofs') {
      const { buildErofsFile } = await import('./erofs.ts');
      await step('Creating the erofs filesystem', () => buildErofsFile(tree, erofsFile, scratch, o.epoch, fixed?.ids));
      imageMb = erofsImageMb(statSync(erofsFile).size, o);
    } else {
      imageMb = await diskImageMb(tree, o, scratch, route);
    }
    const layout = imageLayout({ imageMb, daxHeader: o.daxHeader, measured: o.measured });
    info(`Creating raw disk with size ${imageMb}M`);
    const fd = openSync(tmpImage, 'w', 0o644);
    try {
      const diskSignature = fixed?.diskSignature ?? randomBytes(4).readUInt32LE(0);
      ftruncateSync(fd, layout.imageBytes); // sparse; the partitions are filled in place
      writeAt(fd, mbrSector(layout.mbr1, diskSignature), 0);
      if (layout.mbr2) {
        writeAt(fd, mbrSector(layout.mbr2, diskSignature), layout.pfnDataOffset!);
        if (!o.nsdaxBin) writeAt(fd, pfnInfoBlock({ dataoff: layout.pfnDataOffset!, align: DAX_ALIGNMENT_MB * MiB }), PFN_INFO_OFFSET);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (layout.mbr2 && o.nsdaxBin) {
      info('Set DAX metadata');
      await $`${o.nsdaxBin} ${tmpImage} ${layout.pfnDataOffset!} ${DAX_ALIGNMENT_MB * MiB}`;
    }
    ok('Partitions created');
    const build: FsBuild = { tree, image: tmpImage, region: layout.root, blockSize: o.blockSize, scratch, ...(o.epoch !== undefined ? { epoch: o.epoch, ids: fixed!.ids } : {}) };
    if (o.fsType === 'ext4') await step('Filling the ext4 root partition', () => buildExt4(build));
    else if (xfs) await step('Filling the xfs root partition', () => xfs.buildXfs(build, route!));
    else await $`dd if=${erofsFile} of=${tmpImage} bs=1M seek=${layout.root.offset} oflag=seek_bytes conv=notrunc status=none`;

    let rootHashFile: string | undefined;
    let rootHash: StagedOutput | undefined;
    let verityLine: string | undefined;
    if (layout.hash) {
      const { verityParamsLine, writeVerityTree } = await import('./verity.ts');
      const params = await step('Computing the dm-verity hash tree', async () => writeVerityTree(tmpImage, layout.root, layout.hash!, fixed?.salt));
      rootHashFile = join(outDir, `root_hash_${o.buildVariant}.txt`);
      rootHash = await stageOutput(rootHashFile);
      verityLine = verityParamsLine(params);
      fx.write(rootHash.tmp, verityLine + '\n');
    }
    // The image is read back for its sha256 while the kernel writes it out:
    // the flush runs on libuv's thread pool, the hashing on this thread.
    const flushed = syncFile(tmpImage);
    flushed.catch(() => undefined); // awaited below; a failing SBOM must not leave it unhandled
    const sbom = await step('Writing the SBOM (image sha256)', () => stageOutputSbom(o.rootfs, {
      output: o.image, file: tmpImage, kind: 'disk-image', settings: { 'fs-type': o.fsType, 'dax-header': o.daxHeader ? 'yes' : 'no' },
      ...(verityLine ? { verityLine } : {}), ...(o.epoch !== undefined ? { epoch: o.epoch } : {}),
    }));
    await flushed;
    staged.commit();
    if (rootHash) {
      rootHash.commit();
      ok(`Root hash file created for variant: ${o.buildVariant}`);
    }
    sbom.commit();
    ok(`Image created: ${o.image} (${imageMb} MiB)`);
    return { image: o.image, imageBytes: layout.imageBytes, layout, ...(rootHashFile ? { rootHashFile } : {}) };
  } finally {
    fx.remove(scratch, { recursive: true, force: true });
    dropScratch();
  }
}
