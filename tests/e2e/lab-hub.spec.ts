// The offline classroom of the README: a model folder in the hub's URL layout, served by
// scripts/serve-hub.ts (the server the README names) on another port, and the lab pointed at it with
// `?hub=`. The fixture model (tests/browser/global-setup.ts writes it under test-results/hub) loads
// from that server, each file asked for once (no HEAD probe before the GET); it trains; and once
// the server is gone the lab still loads it, from the browser's model cache.
import { expect, test } from '@playwright/test';
import { startHubServer } from '../../scripts/serve-hub';
import { hubPort } from '../../playwright.config';
import { HUB_DIR, HUB_REPO } from '../browser/global-setup';

test('a model served from a local hub folder loads with ?hub=, trains, and stays cached', async ({
  page,
}) => {
  const hub = await startHubServer({ dir: HUB_DIR, port: hubPort }); // in the build's connect-src
  try {
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`[page] ${m.text()}`);
    });
    const url = `/?backend=wasm&hub=${encodeURIComponent(hub.url)}&model=${HUB_REPO}`;
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    await expect(page.locator('#model-status')).toContainText(`Ready: ${HUB_REPO}`, {
      timeout: 120_000,
    });
    await expect(page.locator('#hub-url')).toHaveValue(hub.url);
    // generation_config.json is optional: the fixture has none, so its one GET is answered 404.
    const files = [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'model.safetensors',
    ];
    expect([...hub.requests].sort()).toEqual(
      files.map((f) => `GET /${HUB_REPO}/resolve/main/${f}`).sort(),
    );

    await page.getByRole('button', { name: /Moby-Dick chapter titles/ }).click();
    await expect(page.locator('#data-summary')).toContainText('472 chat examples');
    await page.getByLabel('Steps', { exact: true }).fill('2');
    await page.getByLabel('Max length (tokens)').fill('48');
    await page.getByLabel('Max length (tokens)').dispatchEvent('change');
    await page.getByRole('button', { name: 'Start' }).click();
    await expect(page.locator('#train-status')).toContainText('Finished at step 2', {
      timeout: 120_000,
    });
  } finally {
    await hub.close();
  }
  // The hub is gone (a laptop that left the classroom): the model comes from Cache Storage.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await expect(page.locator('#model-status')).toContainText(`Ready: ${HUB_REPO}`, {
    timeout: 120_000,
  });
});
