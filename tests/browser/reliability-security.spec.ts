// Security in Chromium: a page using the client, under a Content-Security-Policy without
// 'unsafe-eval' (tests/browser/pages/reliability-csp.html; the worker's policy comes from its
// response headers, set here), trains and samples on wasm and webgpu, and no request goes anywhere
// but 127.0.0.1 (the app's origin, which also serves the hub here). What the policy needs:
// wasm compiles only with 'wasm-unsafe-eval' (without it the engine falls back to cpu and says
// why); webgpu needs neither; nothing evaluates strings as code (the page and worker cannot).
import { expect, test, type Route } from '@playwright/test';

const RECOMMENDED =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'";
const STRICT = "default-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'";

interface Run {
  backend: string;
  reason: string | null;
  loss: number;
  sampled: number;
}

test('no request leaves 127.0.0.1; training runs under a CSP without unsafe-eval', async ({
  page,
  context,
}) => {
  test.setTimeout(300_000);
  const requests: string[] = [];
  const offsite: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  page.on('websocket', (ws) => requests.push(ws.url()));
  const local = (url: URL) =>
    url.hostname === '127.0.0.1' || ['data:', 'blob:'].includes(url.protocol);
  await context.route(
    (url) => !local(url),
    (route) => {
      offsite.push(route.request().url());
      return route.abort();
    },
  );
  let workerPolicy = RECOMMENDED;
  const withPolicy = async (route: Route) => {
    const response = await route.fetch();
    const headers = { ...response.headers(), 'content-security-policy': workerPolicy };
    await route.fulfill({ response, headers: { ...headers, 'cache-control': 'no-store' } });
  };
  await context.route(/worker_file/, withPolicy);
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|vite/.test(m.text())) console.log(`[page] ${m.text()}`);
  });
  await page.goto('/tests/browser/pages/reliability-csp.html');
  await page.waitForSelector('body[data-ready="true"]');
  const run = (backend: string) =>
    page.evaluate(
      (b) => (window as unknown as { trainAndSample(b: string): Promise<Run> }).trainAndSample(b),
      backend,
    );

  const wasm = await run('wasm');
  expect(wasm.backend).toBe('wasm');
  workerPolicy = STRICT;
  const wasmStrict = await run('wasm');
  expect(wasmStrict.backend).toBe('cpu');
  expect(wasmStrict.reason).toMatch(/wasm failed to start/);
  const webgpu = await run('webgpu');
  expect(webgpu.backend).toBe('webgpu');
  for (const r of [wasm, wasmStrict, webgpu]) {
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.sampled).toBeGreaterThan(0);
  }
  const evals = await page.evaluate(() =>
    (
      window as unknown as {
        evalAllowed(): Promise<{ page: boolean; worker: boolean; violations: string[] }>;
      }
    ).evalAllowed(),
  );
  expect(evals.page).toBe(false);
  expect(evals.worker).toBe(false);
  // The only violation on the page is the harness's own eval probe: reported once per policy the
  // page has (its <meta> one, and the dev server's header, workers/security-headers.ts).
  expect([...new Set(evals.violations)]).toEqual(['script-src eval']);

  const hosts = [...new Set(requests.map((u) => new URL(u).host))];
  console.log(
    `[reliability] network: ${requests.length} requests, hosts ${hosts.join(', ')}; offsite attempts ${offsite.length}`,
  );
  console.log(
    `[reliability] CSP: wasm under "${RECOMMENDED}" → ${wasm.backend}; wasm without 'wasm-unsafe-eval' → ${wasmStrict.backend} (${wasmStrict.reason}); webgpu without it → ${webgpu.backend}; eval blocked in page and worker`,
  );
  expect(offsite).toEqual([]);
  for (const u of requests) expect(new URL(u).hostname, u).toBe('127.0.0.1');
  expect(requests.some((u) => u.includes('/test-results/hub/'))).toBe(true);
});
