// Serving the lab: cross-origin isolation (wasm threads) and the Content-Security-Policy
// (workers/security-headers.ts), on the production build (`vite preview`), on the dev server, and
// on a plain static host that sends no headers, where the service worker adds them.
//  - production build: isolated, the engine runs the threaded wasm binary on more than one thread
//    where the machine has the cores, a model downloads from a hub on another origin (the dev
//    server serving the hub fixture, test-results/hub, with CORS), and the page and its workers
//    log no CSP violation;
//  - dev server: isolated, wasm threads;
//  - static host: not isolated on the first visit (it sends no headers), isolated once the
//    service worker controls the page.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { defaultThreads, MAX_THREADS } from '../../src/runtime/wasm-threads';
import { watchCsp } from '../helpers/csp-watch';
import { startStaticServer } from '../helpers/static-server';
import { HUB_DIR, HUB_REPO } from '../browser/global-setup';

const devServer = `http://127.0.0.1:${process.env.LOOPS_TEST_PORT ?? 5174}`;
const hubUrl = `${devServer}/${HUB_DIR}`;
/** The production build playwright.config.ts makes for the 'app' project. */
const APP_DIST = 'test-results/app-dist';

/** The engine's wasm threads row in the lab's engine details. */
async function threadsRow(page: Page): Promise<string> {
  await expect(page.locator('#engine-status')).toContainText('Engine ready on the wasm backend', {
    timeout: 120_000,
  });
  const row = page.locator('#engine-details dt:text-is("wasm threads") + dd');
  return (await row.textContent()) ?? '';
}

/** The thread count the engine picks by default here (every core up to 4, one fewer above). */
function expectedThreads(cores: number): number {
  return Math.min(defaultThreads(cores), MAX_THREADS);
}

test('production build: isolated, wasm threads, a hub download from another origin, no CSP violation', async ({
  page,
}) => {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[page] ${m.text()}`);
  });
  const violations = await watchCsp(page);
  const hubRequests: string[] = [];
  page.context().on('request', (r) => {
    if (r.url().startsWith(hubUrl)) hubRequests.push(r.url());
  });
  const query = new URLSearchParams({ backend: 'wasm', hub: hubUrl, model: HUB_REPO });
  const response = await page.goto(`/?${query}`);
  expect(response?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = expectedThreads(cores);
  expect(await threadsRow(page)).toContain(`${threads} of ${cores} cores (threaded-simd binary)`);

  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await expect(page.locator('#model-status')).toContainText('Ready:', { timeout: 120_000 });
  expect(hubRequests.some((u) => u.endsWith('/model.safetensors'))).toBe(true);

  // The watch works: a fetch the policy refuses is seen (and is the only violation).
  await page.evaluate(() => fetch('https://example.invalid/').catch(() => undefined));
  await expect.poll(() => violations.events.length).toBeGreaterThan(0);
  // (once per policy that refuses it: the header's and the build's <meta>, the same text)
  expect([...new Set(violations.events)]).toEqual(['connect-src https://example.invalid/']);
  expect(violations.console.filter((t) => !t.includes('example.invalid'))).toEqual([]);
});

test('dev server: isolated, and the engine runs wasm on threads', async ({ page }) => {
  const violations = await watchCsp(page);
  await page.goto(`${devServer}/?backend=wasm`);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  expect(await threadsRow(page)).toContain(
    `${expectedThreads(cores)} of ${cores} cores (threaded-simd binary)`,
  );
  expect(violations).toEqual({ events: [], console: [] });
});

/** Every file of the production build, by URL path ('/' is index.html). */
function buildFiles(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(`/${relative(APP_DIST, path).split('\\').join('/')}`, readFileSync(path));
    }
  };
  walk(APP_DIST);
  files.set('/', files.get('/index.html')!);
  return files;
}

test('static host without headers: the service worker makes the next load isolated', async ({
  page,
}) => {
  const host = await startStaticServer(buildFiles(), 1 << 20);
  try {
    await page.goto(`${host.url}/?backend=wasm`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    expect(await threadsRow(page)).toContain('1 of');
    expect(await threadsRow(page)).toContain('not cross-origin isolated');
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));

    const response = await page.reload();
    expect(response?.fromServiceWorker()).toBe(true);
    expect(response?.headers()['cross-origin-opener-policy']).toBe('same-origin');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(await threadsRow(page)).toContain(
      `${expectedThreads(cores)} of ${cores} cores (threaded-simd binary)`,
    );
  } finally {
    await host.close();
  }
});
