// The size table upstream's tests/test_images.sh prints after a run (image
// and rootfs sizes in bytes and MB, type, name; smallest image first), with a
// column for the boot time to the agent's marker.

export interface BuiltGuest {
  name: string;
  type: 'image' | 'initrd';
  imageBytes: number;
  rootfsBytes: number;
  /** Seconds from QEMU start to the marker; undefined when it never came. */
  bootSeconds?: number;
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(2);

/** `printf '%N.Ns'` / `'%-N.Ns'`: cut to N, then pad. */
function cell(value: string, width: number, left = false): string {
  const cut = value.slice(0, width);
  return left ? cut.padEnd(width) : cut.padStart(width);
}

function row(cols: string[]): string {
  const [imageBytes, imageMb, rootfsBytes, rootfsMb, type, name, boot] = cols as [string, string, string, string, string, string, string];
  return [
    cell(imageBytes, 12), cell(imageMb, 10), cell(rootfsBytes, 12), cell(rootfsMb, 10),
    cell(type, 8, true), cell(name, 20, true), cell(boot, 10),
  ].join('\t');
}

/** Header line plus one line per guest, smallest image (then rootfs) first. */
export function statsTable(guests: BuiltGuest[]): string {
  const sorted = [...guests].sort((a, b) => a.imageBytes - b.imageBytes || a.rootfsBytes - b.rootfsBytes);
  const lines = [row(['image-bytes', 'image-MB', 'rootfs-bytes', 'rootfs-MB', 'Type', 'Name', 'boot-s'])];
  for (const g of sorted) {
    lines.push(row([
      String(g.imageBytes), mb(g.imageBytes), String(g.rootfsBytes), mb(g.rootfsBytes), g.type, g.name,
      g.bootSeconds === undefined ? 'FAILED' : g.bootSeconds.toFixed(1),
    ]));
  }
  return lines.join('\n');
}
