// The Loops quickstart in Chromium with the engine in a real Worker on the webgpu backend, and a
// checkpoint that survives a page reload (IndexedDB) and resumes to the same weights.
import { expect, test, type Page } from '@playwright/test';

interface Quick {
  backend: string;
  adapter: string | null;
  progressEvents: number;
  losses: number[];
  gradNorms: number[];
  policyVersion: number;
  samples: number[];
  checkpoints: string[];
  statePath: string;
  probe: number[];
  runId: string;
}

async function open(page: Page): Promise<void> {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[page] ${m.text()}`);
  });
  await page.goto('/tests/browser/pages/facade.html');
  await page.waitForSelector('body[data-ready="true"]');
}

test('quickstart on webgpu in a worker, then resume after a reload', async ({ page }) => {
  await open(page);
  const q = await page.evaluate(() =>
    (window as unknown as { quickstart(b: string, n: string): Promise<Quick> }).quickstart(
      'webgpu',
      'pw-facade',
    ),
  );
  console.log(
    `webgpu quickstart (${q.adapter}): losses ${q.losses.map((l) => l.toFixed(3)).join(' → ')}`,
  );
  expect(q.backend).toBe('webgpu');
  expect(q.progressEvents).toBeGreaterThan(0);
  expect(q.policyVersion).toBe(4);
  expect(q.losses[3]).toBeLessThan(q.losses[0]!);
  expect(q.samples).toHaveLength(2);
  q.samples.forEach((n) => expect(n).toBeGreaterThan(0));
  expect(q.checkpoints).toEqual(['sampler:final']);
  // The first step's gradient norm (same seed, same data, nothing trained yet) on wasm: webgpu's
  // must agree. It read 0 while globalNorm used tf.addN over more inputs than a shader may bind.
  const w = await page.evaluate(() =>
    (window as unknown as { quickstart(b: string, n: string): Promise<Quick> }).quickstart(
      'wasm',
      'pw-facade-wasm',
    ),
  );
  console.log(`grad_norm step 1: webgpu ${q.gradNorms[0]}, wasm ${w.gradNorms[0]}`);
  expect(w.backend).toBe('wasm');
  expect(w.gradNorms[0]).toBeGreaterThan(0);
  expect(Math.abs(q.gradNorms[0]! - w.gradNorms[0]!)).toBeLessThan(1e-3 * w.gradNorms[0]!);

  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  const r = await page.evaluate(
    ([runId, path]) =>
      (
        window as unknown as {
          resume(
            b: string,
            n: string,
            r: string,
            p: string,
          ): Promise<{ listed: string[]; policyVersion: number; probe: number[] }>;
        }
      ).resume('webgpu', 'pw-facade', runId, path),
    [q.runId, q.statePath] as const,
  );
  expect(r.listed).toContain(q.statePath);
  expect(r.policyVersion).toBe(4);
  r.probe.forEach((v, i) => expect(Math.abs(v - q.probe[i]!)).toBeLessThan(1e-5));
});
