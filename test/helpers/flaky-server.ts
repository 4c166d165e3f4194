// A package repository served over HTTP on the loopback address that can be
// told to fail: while `failing` matches a request path, the answer is
// 503 Service Unavailable, as a busy mirror gives; while `resizing` does, the
// file comes with bytes added, as a mirror mid-sync serves a newer file than
// its index names.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface FlakyServer {
  url: string;
  /** Paths answered with 503 while set. */
  failing?: RegExp;
  /** Paths served a few bytes longer than they are while set. */
  resizing?: RegExp;
  /** Requests seen, by path (`failed`: answered 503 or resized). */
  requests: Map<string, { served: number; failed: number }>;
  close(): Promise<void>;
}

export async function serveFlaky(dir: string): Promise<FlakyServer> {
  const requests = new Map<string, { served: number; failed: number }>();
  const flaky: FlakyServer = { url: '', requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const seen = requests.get(path) ?? { served: 0, failed: 0 };
    requests.set(path, seen);
    if (flaky.failing?.test(path)) {
      seen.failed++;
      res.writeHead(503, 'Service Unavailable').end();
      return;
    }
    const file = join(dir, path);
    if (path.includes('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    if (flaky.resizing?.test(path)) {
      seen.failed++;
      const extra = Buffer.from('a newer upload\n');
      res.writeHead(200, { 'content-length': statSync(file).size + extra.length });
      createReadStream(file).on('end', () => res.end(extra)).pipe(res, { end: false });
      return;
    }
    seen.served++;
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  flaky.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return flaky;
}
