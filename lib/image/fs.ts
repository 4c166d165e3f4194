// What every filesystem writer gets: the tree to put in, the image file and
// the partition's place in it, and (for reproducible builds) fixed ids and a
// timestamp.
import type { Region } from './layout.ts';
import type { RootfsTree } from './tree.ts';

export const FS_TYPES = ['ext4', 'xfs', 'erofs'] as const;
export type FsType = (typeof FS_TYPES)[number];

export interface FsIds {
  /** Filesystem UUID. */
  uuid: string;
  /** ext4 directory hash seed (a UUID). */
  hashSeed: string;
}

export interface FsBuild {
  tree: RootfsTree;
  image: string;
  region: Region;
  blockSize: number;
  /** Scratch directory for helper files (removed by the caller). */
  scratch: string;
  /** SOURCE_DATE_EPOCH: clamp timestamps to it. */
  epoch?: number;
  /** Fixed ids (set together with epoch). */
  ids?: FsIds;
}
