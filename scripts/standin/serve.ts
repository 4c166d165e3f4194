// Serve a directory over HTTP the way a private apt mirror is served: plain
// GET/HEAD of files, on an address both the host and a container on the
// engine's default bridge reach (the host's own address, not loopback).
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';
import { $ } from '../../lib/core/exec.ts';
import { die } from '../../lib/core/log.ts';

export interface Served {
  /** http://<addr>:<port> */
  url: string;
  close(): Promise<void>;
}

/** The host's address on its default route: containers on a bridge reach it through NAT, the host directly. */
export async function hostAddress(): Promise<string> {
  const route = (await $({ nothrow: true })`ip -4 route get 1.1.1.1`).stdout;
  const src = /\bsrc (\d+\.\d+\.\d+\.\d+)/.exec(route)?.[1];
  if (src) return src;
  const any = (await $`hostname -I`).stdout.trim().split(/\s+/).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith('127.'));
  return any ?? die('this host has no IPv4 address besides loopback: a container could not reach the stand-in archive');
}

/** Request path → file below root, or undefined (traversal, not a file). */
export function fileOf(root: string, urlPath: string): string | undefined {
  const rel = normalize(decodeURIComponent(urlPath.split('?')[0]!)).replace(/^\/+/, '');
  if (rel.startsWith('..')) return undefined;
  const path = join(root, rel);
  try {
    return statSync(path).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Serve `root` on `port` (0: any free port) of the host's address. */
export async function serveDirectory(root: string, port = 0): Promise<Served> {
  const addr = await hostAddress();
  const server: Server = createServer((req, res) => {
    const path = req.method === 'GET' || req.method === 'HEAD' ? fileOf(root, req.url ?? '/') : undefined;
    if (!path) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Length': statSync(path).size, 'Content-Type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, addr, resolve);
  });
  const actual = (server.address() as { port: number }).port;
  return {
    url: `http://${addr}:${actual}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
