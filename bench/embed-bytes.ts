/**
 * What an embedding page downloads before its first training step: builds the library
 * (`vite build --config vite.lib.config.ts`), serves examples/embed.html as a third-party site
 * would (the page, its script with `'loops-web'` pointing at dist-lib/index.js, dist-lib/ and the
 * shipped models, from a plain Node server), opens it in Chromium, presses "Train", and counts
 * every response (page, engine worker and pthread workers alike) until the page logs step 1.
 * Twice: served cross-origin isolated (threaded-SIMD binary, pthread script) and without the
 * isolation headers (SIMD binary, one thread). Sizes are the bytes served (no compression) and
 * what gzip -6 makes of them, the usual cost over the wire. Prints a table per run and writes
 * bench/results/<date>-embed-bytes.json.
 *
 *   node --import tsx bench/embed-bytes.ts [--no-build]
 */
import { chromium, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromiumArgs } from '../playwright.config';
import { securityHeaders } from '../workers/security-headers';
import { writeResults } from './lib/results';
import { formatTable } from './lib/table';

const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript',
  css: 'text/css',
  json: 'application/json',
  wasm: 'application/wasm',
};

/** URL path → file bytes: what the embedding site serves. */
function siteFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const add = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) add(path, `${prefix}/${name}`);
      else files.set(`${prefix}/${name}`, readFileSync(path));
    }
  };
  add('dist-lib', '/dist-lib');
  add('public/models', '/models');
  files.set('/embed.html', readFileSync('examples/embed.html'));
  files.set('/embed.css', readFileSync('examples/embed.css'));
  const script = readFileSync('examples/embed.js', 'utf8').replace(
    "from 'loops-web'",
    "from './dist-lib/index.js'",
  );
  files.set('/embed.js', Buffer.from(script));
  return files;
}

async function serve(files: Map<string, Buffer>, isolated: boolean): Promise<Server> {
  const headers = isolated ? securityHeaders() : {};
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    const body = files.get(path);
    if (!body) return void res.writeHead(404).end();
    const type = TYPES[path.split('.').pop() ?? ''] ?? 'application/octet-stream';
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': body.byteLength });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

interface Fetched {
  readonly path: string;
  readonly kind: string;
  readonly bytes: number;
  readonly gzip: number;
}

function kindOf(path: string): string {
  if (path.startsWith('/models/')) return 'model';
  if (path.endsWith('.wasm')) return 'wasm binary';
  if (path.startsWith('/dist-lib/')) return 'package code';
  return 'the page';
}

/** Opens the page, presses Train and records the responses until step 1 is logged. */
async function firstStepBytes(page: Page, url: string, files: Map<string, Buffer>) {
  const fetched: Fetched[] = [];
  let counting = true;
  page.context().on('requestfinished', (request) => {
    if (!counting) return;
    const path = new URL(request.url()).pathname;
    const body = files.get(path);
    if (!body || request.method() !== 'GET') return;
    fetched.push({
      path,
      kind: kindOf(path),
      bytes: body.byteLength,
      gzip: gzipSync(body, { level: 6 }).byteLength,
    });
  });
  await page.goto(url);
  await page.getByRole('button', { name: /Train 6 steps/ }).click();
  await page.locator('#log').filter({ hasText: 'step 1:' }).waitFor({ timeout: 300_000 });
  counting = false;
  const log = (await page.locator('#log').textContent()) ?? '';
  const isolated = await page.evaluate(() => crossOriginIsolated);
  return { isolated, threads: /wasm threads: (.*)/.exec(log)?.[1] ?? null, fetched };
}

/**
 * One row per file (with how many times it was requested: each of TF.js's 8 pthread workers
 * fetches the pthread script, which a cache-friendly host serves from the HTTP cache after the
 * first), then totals per kind counting each file once.
 */
function printRun(title: string, all: readonly Fetched[]): void {
  const requests = new Map<string, number>();
  for (const f of all) requests.set(f.path, (requests.get(f.path) ?? 0) + 1);
  const fetched = all.filter((f, i) => all.findIndex((g) => g.path === f.path) === i);
  const kinds = [...new Set(fetched.map((f) => f.kind))];
  const rows = [
    ...fetched.map((f) => ({
      file: f.path,
      kind: f.kind,
      n: requests.get(f.path) ?? 1,
      kib: f.bytes / 1024,
      gz: f.gzip / 1024,
    })),
    ...kinds.map((kind) => {
      const of = fetched.filter((f) => f.kind === kind);
      return {
        file: `total: ${kind}`,
        kind,
        kib: of.reduce((s, f) => s + f.bytes, 0) / 1024,
        gz: of.reduce((s, f) => s + f.gzip, 0) / 1024,
      };
    }),
    {
      file: 'total',
      kind: 'all',
      kib: fetched.reduce((s, f) => s + f.bytes, 0) / 1024,
      gz: fetched.reduce((s, f) => s + f.gzip, 0) / 1024,
    },
  ];
  const columns = [
    { key: 'file' },
    { key: 'kind' },
    { key: 'n', title: 'requests', digits: 0 },
    { key: 'kib', title: 'KiB served' },
    { key: 'gz', title: 'KiB gzip -6' },
  ];
  console.log(`\n${title}\n\n${formatTable(columns, rows)}`);
}

async function main(): Promise<void> {
  if (!process.argv.includes('--no-build') || !existsSync('dist-lib/index.js')) {
    execFileSync('npx', ['vite', 'build', '--config', 'vite.lib.config.ts', '--logLevel', 'warn'], {
      stdio: 'inherit',
    });
  }
  const files = siteFiles();
  const browser = await chromium.launch({ executablePath: EXECUTABLE, args: chromiumArgs });
  const runs = [];
  try {
    for (const isolated of [true, false]) {
      const server = await serve(files, isolated);
      const { port } = server.address() as AddressInfo;
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const run = await firstStepBytes(page, `http://127.0.0.1:${port}/embed.html`, files);
        const title = `${isolated ? 'Isolated' : 'Not isolated'} (crossOriginIsolated ${run.isolated}; wasm threads: ${run.threads})`;
        printRun(title, run.fetched);
        runs.push({ served: isolated ? 'with isolation headers' : 'no headers', ...run });
      } finally {
        await context.close();
        server.close();
      }
    }
  } finally {
    await browser.close();
  }
  const sizes = Object.fromEntries(
    [...files]
      .filter(([p]) => p.startsWith('/dist-lib/'))
      .map(([p, b]) => [relative('/', p), b.byteLength]),
  );
  console.log(
    `\nwrote ${writeResults('embed-bytes', { browser: EXECUTABLE, distLib: sizes, runs })}`,
  );
}

await main();
