/**
 * A tiny HTTP file server on 127.0.0.1 for tests: serves `files` (URL path → bytes) for GET and
 * HEAD with Content-Length and a Content-Type by extension (and nothing else: no isolation or
 * policy headers, as a plain static host), answers 404 for anything else (or, when given, an
 * index.html as a single-page-app host does), and lets a test force a status on a path (for
 * example 500). Bodies go out in small chunks with a pause between them, so a client sees
 * several progress events. Every request is logged, so a test can prove the network was not used.
 * Each file has an ETag (a checksum of its bytes, as the hub sends one), and `setFile` replaces a
 * file as a new commit on a branch would.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StaticServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** "METHOD /path" of every request, in order. */
  readonly requests: string[];
  /** Answer `status` (with an empty body) for `path` from now on. */
  failWith(path: string, status: number): void;
  /** Serve `bytes` at `path` from now on (a new ETag with new content). */
  setFile(path: string, bytes: Uint8Array): void;
  close(): Promise<void>;
}

export async function startStaticServer(
  files: ReadonlyMap<string, Uint8Array>,
  chunkBytes = 4096,
  /** Answer a path with no file with this page and 200, as a single-page-app host does. */
  fallbackHtml: string | null = null,
): Promise<StaticServer> {
  const requests: string[] = [];
  const forced = new Map<string, number>();
  const served = new Map(files);
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    requests.push(`${req.method ?? '?'} ${path}`);
    const status = forced.get(path);
    const body = served.get(path);
    if (status === undefined && body === undefined && fallbackHtml !== null) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(fallbackHtml);
      return;
    }
    if (status !== undefined || body === undefined) {
      res.writeHead(status ?? 404, { 'content-length': 0 }).end();
      return;
    }
    res.writeHead(200, {
      'content-type': contentType(path),
      'content-length': body.byteLength,
      etag: etagOf(body),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    void sendInChunks(res, body, chunkBytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failWith: (path, status) => forced.set(path, status),
    setFile: (path, bytes) => served.set(path, bytes),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript',
  mjs: 'text/javascript',
  css: 'text/css',
  json: 'application/json',
  webmanifest: 'application/manifest+json',
  svg: 'image/svg+xml',
  wasm: 'application/wasm',
};

/** What a plain static host answers as Content-Type, by extension (a folder: its index.html). */
function contentType(path: string): string {
  const extension = path.endsWith('/') ? 'html' : (path.split('.').pop() ?? '');
  return TYPES[extension] ?? 'application/octet-stream';
}

async function sendInChunks(
  res: ServerResponse,
  body: Uint8Array,
  chunkBytes: number,
): Promise<void> {
  for (let at = 0; at < body.byteLength; at += chunkBytes) {
    if (res.destroyed) return;
    res.write(body.subarray(at, at + chunkBytes));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  res.end();
}

/** A strong ETag from the bytes (FNV-1a over them, and the length). */
function etagOf(body: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of body) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `"${body.byteLength.toString(16)}-${h.toString(16)}"`;
}
