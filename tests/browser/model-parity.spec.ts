// The model engine on the webgpu (and wasm) backend in Chromium agrees with the cpu backend on the
// tiny models of every family: logits, chunked target log-probs and LoRA gradients.
import { expect, test } from '@playwright/test';

type Parity = {
  backend: string;
  results: Record<string, { logits: number; logprobs: number; grads: number; leaked: number }>;
};

for (const backend of ['webgpu', 'wasm'] as const) {
  test(`tiny models on ${backend} match the cpu backend`, async ({ page }) => {
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`[page] ${m.text()}`);
    });
    await page.goto('/tests/browser/pages/model-parity.html');
    await page.waitForSelector('body[data-ready="true"]');
    const out = await page.evaluate(
      (b) =>
        (window as unknown as { runModelParity(b: string): Promise<Parity> }).runModelParity(b),
      backend,
    );
    console.log(`${backend} vs cpu: ${JSON.stringify(out.results)}`);
    expect(out.backend).toBe(backend);
    for (const [name, r] of Object.entries(out.results)) {
      expect(r.logits, `${name} logits`).toBeLessThan(1e-4);
      expect(r.logprobs, `${name} logprobs`).toBeLessThan(1e-4);
      expect(r.grads, `${name} LoRA grads`).toBeLessThan(1e-3);
      expect(r.leaked, `${name} leaked tensors`).toBe(0);
    }
  });
}
