// Hostile and tricky tar archives, built byte by byte, each with what must
// happen when it is unpacked into a tree whose var/run -> /run and var/out ->
// a sentinel directory outside the tree: refused (one ERROR matching
// `refused`) or unpacked with `lands` inside the tree. Every file name an
// archive tries to plant contains MARK, so a stray write is easy to find.
import { fixChecksum, makeTar, paxData, type TarSpec } from './tar-writer.ts';

export const MARK = 'x-osbtar';

export interface CorpusCase {
  what: string;
  /** The archive, given the sentinel's absolute path. */
  archive: (outside: string) => Buffer;
  refused?: RegExp;
  /** Paths (relative to the tree) that exist after the unpack. */
  lands?: (outside: string) => string[];
}

const file = (name: string, data = 'evil\n'): TarSpec => ({ name, data });
const tar = (...entries: TarSpec[]) => () => makeTar(entries);

/** A header block alone, for hiding inside another entry's data. */
function headerBlock(spec: TarSpec): Buffer {
  return makeTar([spec]).subarray(0, 512);
}

function sizeHiding(sizeField: Buffer | string): Buffer {
  const hidden = Buffer.concat([headerBlock(file(`var/run/${MARK}`)), Buffer.from('evil\n'.padEnd(512, '\0'))]);
  return makeTar([{ name: 'benign', data: hidden, sizeField }]);
}

function negativeBase256(): Buffer {
  const f = Buffer.alloc(12, 0xff);
  f[11] = 0xfc; // -4
  return f;
}

function positiveBase256(n: number): Buffer {
  const f = Buffer.alloc(12);
  f[0] = 0x80;
  f.writeUInt32BE(n, 8);
  return f;
}

/** Cut `buf` after `n` bytes. */
const cut = (buf: Buffer, n: number) => buf.subarray(0, n);

export const CORPUS: CorpusCase[] = [
  // The seven bypasses of issue #23 item 2, and the symlink one.
  { what: 'pax global header path= before a benign entry', archive: tar({ name: 'pax_global_header', type: 'g', pax: { path: `var/run/${MARK}` } }, file('benign')),
    refused: /pax global header setting path for every later entry/ },
  { what: 'pax sparse 1.0 with GNU.sparse.name', archive: tar(
    { name: 'PaxHeaders/sparse', type: 'x', pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': `var/run/${MARK}`, 'GNU.sparse.realsize': '5' } },
    { name: 'GNUSparseFile.0/benign', data: Buffer.concat([Buffer.from('1\n0\n5\n'.padEnd(512, '\0')), Buffer.from('evil\n')]) }),
  refused: /GNU sparse file \(pax GNU\.sparse\.major\)/ },
  { what: "regular file 'var/run/' (type 0) then var/run/evil", archive: tar({ name: 'var/run/', data: '' }, file(`var/run/${MARK}`)), refused: /entry var\/run\/ has a name ending in \/ but is not a directory/ },
  { what: "regular file 'var/run/' (type NUL) then var/run/evil", archive: tar({ name: 'var/run/', type: '\0', data: '' }, file(`var/run/${MARK}`)), refused: /entry var\/run\/ has a name ending in \//m },
  { what: "file 'var/run/.' then var/run/evil", archive: tar({ name: 'var/run/.', data: '' }, file(`var/run/${MARK}`)), refused: /entry var\/run\/\. has a name with \. inside it/ },
  { what: 'hard link var/run -> missing target, then var/run/evil', archive: tar({ name: 'var/run', type: '1', linkName: 'no/such/file' }, file(`var/run/${MARK}`)),
    refused: /entry var\/run is a hard link to no\/such\/file, which is neither earlier in the archive nor in the tree/ },
  { what: "size field '00000002000x' hiding a header in its data", archive: () => sizeHiding('00000002000x'), refused: /entry benign has a malformed size field/ },
  { what: 'negative base-256 size hiding a header', archive: () => sizeHiding(negativeBase256()), refused: /entry benign has a negative or malformed base-256 size field/ },
  { what: 'symlink var/lib -> the sentinel, then a file through it', archive: (o) => makeTar([{ name: 'var/lib', type: '2', linkName: o }, file(`var/lib/osbuilder/${MARK}`)]),
    refused: /entry var\/lib is a symlink, but \/var\/lib is a directory in the tree|named twice/ },
  // Names.
  { what: 'absolute name', archive: (o) => makeTar([file(`${o}/${MARK}`)]), refused: /has an absolute name/ },
  { what: '.. in the name', archive: tar(file(`etc/../../${MARK}`)), refused: /has a name with \.\./ },
  { what: 'empty component (//)', archive: tar(file(`etc//${MARK}`)), refused: /empty component/ },
  { what: 'the root as a file', archive: tar(file('./')), refused: /entry \.\/ names the root of the tree but is a file/ },
  { what: 'the root as a file (.)', archive: tar(file('.')), refused: /names the root of the tree but is a file/ },
  { what: 'GNU long name with ..', archive: tar({ name: '././@LongLink', type: 'L', data: `${'d/'.repeat(60)}../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../${MARK}\0` }, file('short')),
    refused: /has a name with \.\./ },
  { what: 'pax path with ..', archive: tar({ name: 'PaxHeaders/x', type: 'x', pax: { path: `../${MARK}` } }, file('short')), refused: /entry \.\.\/x-osbtar has a name with \.\./ },
  { what: 'pax path and a GNU long name for one entry', archive: tar({ name: '././@LongLink', type: 'L', data: 'benign\0' }, { name: 'PaxHeaders/x', type: 'x', pax: { path: `var/run/${MARK}` } }, file('short')),
    refused: /both a GNU long name and a pax path/ },
  { what: 'two GNU long names for one entry', archive: tar({ name: '././@LongLink', type: 'L', data: 'a\0' }, { name: '././@LongLink', type: 'L', data: `var/run/${MARK}\0` }, file('short')),
    refused: /second GNU long-name header for one entry/ },
  { what: 'two pax headers for one entry', archive: tar({ name: 'P/x', type: 'x', pax: { path: 'a' } }, { name: 'P/x', type: 'x', pax: { path: `var/run/${MARK}` } }, file('short')), refused: /second pax header for one entry/ },
  { what: 'pax key given twice', archive: () => makeTar([{ name: 'P/x', type: 'x', data: Buffer.concat([paxData({ path: 'a' }), paxData({ path: `var/run/${MARK}` })]) }, file('short')]),
    refused: /pax key path twice/ },
  { what: 'malformed pax record length', archive: () => makeTar([{ name: 'P/x', type: 'x', data: Buffer.from(`99 path=var/run/${MARK}\n`) }, file('short')]), refused: /malformed pax record/ },
  { what: 'pax header right before the end', archive: tar({ name: 'P/x', type: 'x', pax: { path: `var/run/${MARK}` } }), refused: /ends right after a long-name or pax header/ },
  { what: 'name not UTF-8', archive: () => { const b = makeTar([file('abc')]); b[1] = 0xff; fixChecksum(b.subarray(0, 512)); return b; }, refused: /name that is not valid UTF-8/ },
  // Links.
  { what: 'hard link to an absolute path', archive: (o) => makeTar([{ name: MARK, type: '1', linkName: `${o}/secret` }]), refused: /is a hard link that has an absolute link target/ },
  { what: 'hard link to .. ', archive: tar({ name: MARK, type: '1', linkName: '../secret' }), refused: /is a hard link that has a link target with \.\./ },
  { what: 'hard link to the sentinel through the tree\'s var/out link (outside: missing in the tree)', archive: tar({ name: `etc/${MARK}`, type: '1', linkName: 'var/out/secret' }),
    refused: /is a hard link to var\/out\/secret, which is neither earlier in the archive nor in the tree/ },
  { what: 'hard link to a directory', archive: tar({ name: MARK, type: '1', linkName: 'etc' }), refused: /is a hard link to etc, a directory/ },
  { what: 'hard link var/run -> etc/hostname, then var/run/evil through the file', archive: tar({ name: 'var/run', type: '1', linkName: 'etc/hostname' }, file(`var/run/${MARK}`)),
    refused: /entry var\/run\/x-osbtar goes through \/var\/run, which is not a directory/ },
  { what: 'symlink loop, then a file through it', archive: tar({ name: 'loop', type: '2', linkName: 'loop' }, file(`loop/${MARK}`)), refused: /too many levels of symlinks/ },
  { what: 'symlink with an empty target', archive: tar({ name: MARK, type: '2', linkName: '' }), refused: /symlink with an empty or overlong target/ },
  // Numbers, checksums, framing.
  { what: 'bad checksum', archive: tar({ ...file(`var/run/${MARK}`), badChecksum: true }), refused: /the header at byte 0 has a bad checksum/ },
  { what: 'octal field with a digit 8', archive: () => { const b = makeTar([file(MARK)]); b.write('0000008', 100, 'latin1'); fixChecksum(b.subarray(0, 512)); return b; }, refused: /malformed mode field/ },
  { what: 'negative base-256 uid', archive: () => { const b = makeTar([file(MARK)]); Buffer.alloc(8, 0xff).copy(b, 108); fixChecksum(b.subarray(0, 512)); return b; }, refused: /negative or malformed base-256 uid/ },
  { what: 'size of a directory entry (hides data)', archive: () => makeTar([{ name: 'dir/', type: '5', data: Buffer.concat([headerBlock(file(`var/run/${MARK}`)), Buffer.alloc(512)]) }]),
    refused: /entry dir\/ is a dir with a size of 1024 bytes/ },
  { what: 'data after the end-of-archive blocks', archive: () => makeTar([file('fine')], Buffer.concat([headerBlock(file(`var/run/${MARK}`)), Buffer.alloc(1024)])), refused: /data after its end-of-archive blocks/ },
  { what: 'a lone zero block then a header', archive: () => Buffer.concat([makeTar([file('fine')]).subarray(0, 1536), makeTar([file(`var/run/${MARK}`)])]), refused: /lone zero block followed by more data/ },
  { what: 'truncated in the middle of a file', archive: () => cut(makeTar([file('fine'), file(MARK, 'x'.repeat(2000))]), 512 * 3 + 100), refused: /is truncated after entry fine/ },
  { what: 'truncated before the end blocks', archive: () => cut(makeTar([file(MARK)]), 1024), refused: /is truncated/ },
  { what: 'not a ustar header (v7)', archive: () => { const b = makeTar([file('fine'), file(MARK)]); b.fill(0, 1024 + 257, 1024 + 265); fixChecksum(b.subarray(1024, 1536)); return b; }, refused: /the header at byte 1024 \(after entry fine\) is not a ustar, GNU or pax header/ },
  { what: 'unknown type', archive: tar({ ...file(MARK), type: 'Z' }), refused: /unknown entry type "Z"/ },
  { what: 'old GNU sparse type S', archive: tar({ ...file(MARK), type: 'S', magic: 'gnu' }), refused: /GNU sparse file \(type 'S'\)/ },
  { what: 'GNU dumpdir type D', archive: tar({ ...file(MARK), type: 'D', magic: 'gnu' }), refused: /GNU dumpdir/ },
  // Conflicts with the archive itself or the tree.
  { what: 'a file then a directory of the same name', archive: tar(file(MARK), { name: `${MARK}/`, type: '5' }), refused: /named twice in the archive/ },
  { what: 'a file over a directory of the tree', archive: tar(file('etc')), refused: /entry etc is a file, but \/etc is a directory in the tree/ },
  { what: 'a file through a file of the tree', archive: tar(file(`etc/hostname/${MARK}`)), refused: /goes through \/etc\/hostname, which is not a directory/ },
  // Unpacked, and inside the tree whatever the links say.
  { what: 'var/run/evil through the tree\'s var/run -> /run', archive: tar(file(`var/run/${MARK}`)), lands: () => [`run/${MARK}`] },
  { what: 'pax path var/run/evil', archive: tar({ name: 'P/x', type: 'x', pax: { path: `var/run/pax-${MARK}` } }, file('short')), lands: () => [`run/pax-${MARK}`] },
  { what: 'GNU long name through var/run', archive: tar({ name: '././@LongLink', type: 'L', data: `var/run/${'l'.repeat(150)}-${MARK}\0` }, file('short')), lands: () => [`run/${'l'.repeat(150)}-${MARK}`] },
  { what: 'a file through the tree\'s var/out -> the sentinel', archive: tar(file(`var/out/${MARK}`)), lands: (o) => [`${o.slice(1)}/${MARK}`] },
  { what: 'an archive symlink to the sentinel, then a file through it', archive: (o) => makeTar([{ name: 'esc', type: '2', linkName: o }, file(`esc/${MARK}`)]),
    lands: (o) => ['esc', `${o.slice(1)}/${MARK}`] },
  { what: 'an archive symlink to /, then a file through it', archive: (o) => makeTar([{ name: 'slash', type: '2', linkName: '/' }, file(`slash${o}/${MARK}-2`)]), lands: (o) => [`${o.slice(1)}/${MARK}-2`] },
  { what: 'a relative symlink climbing above the root', archive: tar({ name: 'usr/up', type: '2', linkName: '../../../../..' }, file(`usr/up/${MARK}`)), lands: () => [MARK] },
  { what: 'a directory entry over var/run (kept as the link)', archive: tar({ name: 'var/run/', type: '5', mode: 0o777 }, file(`var/run/d-${MARK}`)), lands: () => ['var/run', `run/d-${MARK}`] },
  { what: 'a symlink entry replacing var/run (not followed)', archive: tar({ name: 'var/run', type: '2', linkName: '/etc' }, file(`var/run/s-${MARK}`)), lands: () => [`etc/s-${MARK}`] },
  { what: 'a file replacing the tree\'s var/out link (not followed)', archive: tar(file('var/out', 'replaced\n')), lands: () => ['var/out'] },
  { what: 'a hard link to a file of the tree', archive: tar({ name: `h-${MARK}`, type: '1', linkName: 'etc/hostname' }), lands: () => [`h-${MARK}`] },
  { what: 'a hard link through var/run to a file the archive made', archive: tar(file(`run/t-${MARK}`), { name: `h2-${MARK}`, type: '1', linkName: `var/run/t-${MARK}` }), lands: () => [`h2-${MARK}`] },
  { what: 'a pax size of 0 over a header size hiding a header (read as pax says)', archive: () => {
    const hidden = Buffer.concat([headerBlock(file(`var/run/hidden-${MARK}`)), Buffer.from('evil\n'.padEnd(512, '\0'))]);
    return makeTar([{ name: 'P/x', type: 'x', pax: { size: '0' } }, { name: 'short', data: hidden, sizeField: '00000002000\0' }]);
  }, lands: () => ['short', `run/hidden-${MARK}`] },
  { what: 'a positive base-256 size', archive: () => makeTar([{ name: `b256-${MARK}`, data: 'abcd', sizeField: positiveBase256(4) }]), lands: () => [`b256-${MARK}`] },
  { what: 'a device node and a fifo', archive: tar({ name: `dev/c-${MARK}`, type: '3', devMajor: 1, devMinor: 3, mode: 0o666 }, { name: `dev/p-${MARK}`, type: '6' }), lands: () => [`dev/c-${MARK}`, `dev/p-${MARK}`] },
  { what: 'trailing zero padding after the end (a tar record)', archive: () => makeTar([file(`pad-${MARK}`)], Buffer.alloc(8192)), lands: () => [`pad-${MARK}`] },
];
