// Worker + comlink + TF.js backends end to end in Chromium: the engine worker selects a backend,
// reports the adapter, runs a matmul and tf.grad, and the page compares with a float64 reference.
import { expect, test, type Page } from '@playwright/test';
import { defaultThreads, MAX_THREADS } from '../../src/runtime/wasm-threads';

interface CheckResult {
  report: {
    backend: string;
    requested: string;
    adapter: {
      vendor: string;
      architecture: string;
      description: string;
      isSoftware: boolean;
      limits: Record<string, number>;
    } | null;
    reason: string | null;
    wasm: {
      threads: number;
      binary: string;
      crossOriginIsolated: boolean;
      cores: number | null;
      reason: string | null;
    } | null;
  };
  computedOn: string;
  leakedTensors: number;
  errors: { product: number; value: number; gradX: number; gradW: number };
}

async function open(page: Page): Promise<void> {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[page] ${m.text()}`);
  });
  await page.goto('/tests/browser/pages/backend-check.html');
  await page.waitForSelector('body[data-ready="true"]');
}

async function check(page: Page, backend: string): Promise<CheckResult> {
  return page.evaluate(
    (b) =>
      (window as unknown as { runBackendCheck(b: string): Promise<CheckResult> }).runBackendCheck(
        b,
      ),
    backend,
  );
}

function expectAgreement(result: CheckResult): void {
  // float32 on the device vs float64 on the page: a few ulps of accumulated rounding.
  expect(result.errors.product).toBeLessThan(1e-4);
  expect(result.errors.value).toBeLessThan(1e-4);
  expect(result.errors.gradX).toBeLessThan(1e-3);
  expect(result.errors.gradW).toBeLessThan(1e-3);
  expect(result.leakedTensors).toBe(0);
}

test('webgpu backend in a worker: adapter, matmul and gradient match the CPU reference', async ({
  page,
}) => {
  await open(page);
  const result = await check(page, 'webgpu');
  const a = result.report.adapter;
  console.log(
    `webgpu adapter: ${JSON.stringify({ vendor: a?.vendor, architecture: a?.architecture, description: a?.description, software: a?.isSoftware, maxBufferSize: a?.limits.maxBufferSize, maxStorageBufferBindingSize: a?.limits.maxStorageBufferBindingSize })}`,
  );
  console.log(`webgpu errors: ${JSON.stringify(result.errors)}`);
  // A silent fallback would show up in either field.
  expect(result.report.backend).toBe('webgpu');
  expect(result.computedOn).toBe('webgpu');
  expect(a).not.toBeNull();
  expect(`${a?.vendor}${a?.architecture}${a?.description}`.length).toBeGreaterThan(0);
  expect(a?.limits.maxBufferSize).toBeGreaterThan(0);
  expectAgreement(result);
});

test('wasm backend in a worker: threads, matmul and gradient match the CPU reference', async ({
  page,
}) => {
  await open(page);
  const result = await check(page, 'wasm');
  console.log(
    `wasm: ${JSON.stringify(result.report.wasm)}; errors ${JSON.stringify(result.errors)}`,
  );
  expect(result.report.backend).toBe('wasm');
  expect(result.computedOn).toBe('wasm');
  // The dev server isolates the page (vite.config.ts), so the threaded binary runs on the default
  // count: every core up to 4, one fewer above, at most TF.js's 8.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  expect(result.report.wasm).toEqual({
    threads: Math.min(defaultThreads(cores), MAX_THREADS),
    binary: 'threaded-simd',
    crossOriginIsolated: true,
    cores,
    reason: null,
  });
  expectAgreement(result);
});

test('wasm without cross-origin isolation: one thread, the SIMD binary, and why', async ({
  page,
}) => {
  // A host that sends no isolation headers: the same pages, with COOP and COEP taken out.
  await page.route('**/*', async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response, headers });
  });
  await open(page);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
  const result = await check(page, 'wasm');
  expect(result.report.backend).toBe('wasm');
  expect(result.report.wasm).toMatchObject({
    threads: 1,
    binary: 'simd',
    crossOriginIsolated: false,
  });
  expect(result.report.wasm?.reason).toMatch(
    /not cross-origin isolated.*Cross-Origin-Embedder-Policy/,
  );
  expectAgreement(result);
});

test('auto prefers wasm over a software WebGPU adapter and says why', async ({ page }) => {
  await open(page);
  const result = await check(page, 'auto');
  console.log(`auto: ${result.report.backend} (${result.report.reason ?? 'hardware adapter'})`);
  if (result.report.adapter?.isSoftware === false) {
    expect(result.report.backend).toBe('webgpu');
  } else {
    expect(result.report.backend).toBe('wasm');
    expect(result.report.reason).toMatch(/software|no WebGPU adapter/);
  }
  expectAgreement(result);
});

test('a bad backend name comes back through the worker as a typed ValidationError', async ({
  page,
}) => {
  await open(page);
  const out = await page.evaluate(() =>
    (window as unknown as { initError(b: string): Promise<Record<string, unknown>> }).initError(
      'tpu',
    ),
  );
  expect(out).toMatchObject({
    threw: true,
    name: 'ValidationError',
    errorClass: 'ValidationError',
  });
  expect(String(out.message)).toContain("'tpu'");
});

test('the app page shows the backend the engine worker got', async ({ page }) => {
  await page.goto('/?backend=wasm');
  await expect(page.locator('#engine-status')).toHaveText(/Engine ready on the wasm backend/, {
    timeout: 60_000,
  });
  await expect(page.locator('#engine-details')).toContainText('wasm');
});
