/**
 * A local stand-in for the Hugging Face hub, for classrooms without the internet: serves a folder
 * laid out as the hub's URLs (`<folder>/<org>/<name>/resolve/main/config.json`, …) over HTTP on the
 * local network, so every laptop's lab loads the model with `?hub=http://<this machine>:<port>`.
 *
 *   npm run serve:hub -- <folder> [--port 8080] [--host 0.0.0.0]
 *
 * It answers GET and HEAD with Content-Length and `Access-Control-Allow-Origin: *` (the lab runs on
 * another origin and fetches from its engine worker), 404 for anything else, and never serves a
 * path outside the folder. Any static server that sends that CORS header works as well; this one
 * needs nothing beyond Node. The e2e test (tests/e2e/lab-hub.spec.ts) uses it.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainModule } from '../examples/lib/main-module';

export interface HubServer {
  /** `http://<host>:<port>` */
  readonly url: string;
  /** "METHOD /path" of every request, in order (for tests). */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startHubServer(options: {
  readonly dir: string;
  readonly port: number;
  readonly host?: string;
}): Promise<HubServer> {
  const root = resolve(options.dir);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    requests.push(`${req.method ?? '?'} ${path}`);
    res.setHeader('Access-Control-Allow-Origin', '*');
    const file = resolve(root, `.${path}`);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !file.startsWith(root + sep)) {
      res.writeHead(req.method === 'OPTIONS' ? 204 : 404).end();
      return;
    }
    stat(file).then(
      (info) => {
        if (!info.isFile()) throw new Error('not a file');
        res.writeHead(200, {
          'content-type': contentType(file),
          'content-length': info.size,
          'cache-control': 'no-cache',
        });
        if (req.method === 'HEAD') res.end();
        else createReadStream(file).pipe(res);
      },
      () => res.writeHead(404, { 'content-length': 0 }).end(),
    );
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, host, done);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((done, fail) => {
        server.closeAllConnections();
        server.close((error) => (error ? fail(error) : done()));
      }),
  };
}

function contentType(file: string): string {
  if (file.endsWith('.json')) return 'application/json';
  if (file.endsWith('.md') || file.endsWith('.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { port: { type: 'string' }, host: { type: 'string' } },
    allowPositionals: true,
  });
  const dir = positionals[0];
  if (!dir) {
    console.error('usage: npm run serve:hub -- <folder> [--port 8080] [--host 0.0.0.0]');
    process.exitCode = 2;
    return;
  }
  const server = await startHubServer({
    dir,
    port: Number(values.port ?? 8080),
    host: values.host ?? '0.0.0.0',
  });
  const port = new URL(server.url).port;
  console.log(
    `Serving ${resolve(dir)} as a hub on ${server.url}. Open the lab with ` +
      `?hub=http://<this machine's address>:${port}&model=<org>/<name>`,
  );
}

if (isMainModule(import.meta.url)) void main();
