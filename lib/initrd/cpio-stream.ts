// Streaming newc writer: headers and file bodies go to a Writable (a
// compressor's stdin, a file) in large chunks, respecting back-pressure, so an
// archive of any size is written with a small, fixed amount of memory.
import type { Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { type NewcHeader, encodeNewcHeader, encodeTrailer, pad4 } from './cpio.ts';

const CHUNK = 1 << 20;

/** Where an entry's body comes from: bytes in memory or `size` bytes of a file. */
export type CpioBody = Buffer | { path: string | Buffer; size: number };

export class CpioStreamWriter {
  private buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private failure: Error | undefined;

  /** `hash`: updated with every byte written to `out` (the output's digest without reading it back). */
  constructor(private readonly out: Writable, private readonly hash?: Hash) {
    out.on('error', (e: Error) => (this.failure ??= e));
  }

  /** Append one entry; `header.c_filesize` must equal the body's size. */
  async add(header: NewcHeader, name: Buffer | string, body?: CpioBody): Promise<void> {
    await this.put(encodeNewcHeader(header, name));
    if (body === undefined) return;
    if (Buffer.isBuffer(body)) await this.put(body);
    else await this.copyFile(body.path, body.size, name);
    await this.put(Buffer.alloc(pad4(header.c_filesize)));
  }

  /** Write the trailer, flush, and end the stream. */
  async finish(): Promise<void> {
    await this.put(encodeTrailer());
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      this.out.end((e?: Error | null) => (e ? reject(e) : resolve()));
    });
    if (this.failure) throw this.failure;
  }

  private async copyFile(path: string | Buffer, size: number, name: Buffer | string): Promise<void> {
    const fh = await open(path, 'r');
    try {
      let done = 0;
      while (done < size) {
        if (this.used === CHUNK) await this.flush();
        const want = Math.min(CHUNK - this.used, size - done);
        const { bytesRead } = await fh.read(this.buf, this.used, want, done);
        if (bytesRead === 0) throw new Error(`"${name.toString()}" shrank while being archived (expected ${size} bytes)`);
        this.used += bytesRead;
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  private async put(bytes: Buffer): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      if (this.used === CHUNK) await this.flush();
      const n = bytes.copy(this.buf, this.used, off);
      this.used += n;
      off += n;
    }
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.used === 0) return;
    const chunk = this.buf.subarray(0, this.used);
    this.hash?.update(chunk);
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
    if (!this.out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => { this.out.off('error', onError); resolve(); };
        const onError = (e: Error) => { this.out.off('drain', onDrain); reject(e); };
        this.out.once('drain', onDrain);
        this.out.once('error', onError);
      });
    }
  }
}
