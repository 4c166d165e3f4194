// The type of an lstat result: by name, and as find(1)'s %y letter.
import type { Stats } from 'node:fs';

export type FileType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export function fileType(st: Stats): FileType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** find -printf %y's letter of each type. */
export const TYPE_LETTER: Record<FileType, string> = { file: 'f', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's' };
