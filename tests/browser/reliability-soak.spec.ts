// Leaks in Chromium: the engine worker's TF.js tensors and bytes (its memory() across comlink) are
// unchanged after N mixed steps (train, sample, save, load) and back to zero once the run closes.
// wasm: LOOPS_SOAK_WASM_STEPS (default 30). webgpu on SwiftShader takes ~10 s a mixed step on the
// 2-core CI machine, so LOOPS_SOAK_WEBGPU_STEPS defaults to 4 there (set it to 100 for the full
// soak). Node runs 100 in vitest and 1000 in scripts/soak.ts.
import { expect, test, type Page } from '@playwright/test';

interface Memory {
  backend: string | null;
  numTensors: number;
  numDataBuffers: number;
  numBytes: number;
}
interface Soak {
  start: Memory;
  warm: Memory;
  after: Memory;
  closed: Memory;
  msPerStep: number;
  ms: Record<string, number>;
  policyVersion: number;
}

async function soak(page: Page, backend: string, steps: number): Promise<Soak> {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[page] ${m.text()}`);
  });
  await page.goto('/tests/browser/pages/reliability.html');
  await page.waitForSelector('body[data-ready="true"]');
  const r = await page.evaluate(
    ([b, n]) => (window as unknown as { soak(b: string, n: number): Promise<Soak> }).soak(b, n),
    [backend, steps] as const,
  );
  console.log(
    `[reliability] soak (Chromium worker, ${backend}): ${steps} mixed steps at ${r.msPerStep.toFixed(0)} ms/step ` +
      `(${Object.entries(r.ms)
        .map(([k, v]) => `${k} ${(v / (steps + 1)).toFixed(0)} ms`)
        .join(', ')}); ` +
      `tensors ${r.warm.numTensors} → ${r.after.numTensors}, bytes ${r.warm.numBytes} → ${r.after.numBytes}; ` +
      `after close ${r.closed.numTensors} tensors, ${r.closed.numBytes} bytes`,
  );
  expect(r.after.backend).toBe(backend);
  expect(r.policyVersion).toBe(steps + 1);
  expect(r.after.numTensors).toBe(r.warm.numTensors);
  expect(r.after.numBytes).toBe(r.warm.numBytes);
  expect(r.after.numDataBuffers).toBe(r.warm.numDataBuffers);
  expect(r.closed.numTensors).toBe(r.start.numTensors);
  expect(r.closed.numBytes).toBe(r.start.numBytes);
  return r;
}

test('no tensor leaks over mixed steps on wasm', async ({ page }) => {
  await soak(page, 'wasm', Number(process.env.LOOPS_SOAK_WASM_STEPS ?? 30));
});

test('no tensor leaks over mixed steps on webgpu', async ({ page }) => {
  const steps = Number(process.env.LOOPS_SOAK_WEBGPU_STEPS ?? 4);
  test.setTimeout(Math.max(180_000, steps * 30_000));
  await soak(page, 'webgpu', steps);
});
