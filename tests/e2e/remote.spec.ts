// The lab training on a remote service instead of the tab: a `loops-web serve` process (allowing
// the lab's origin), the advanced setting filled in, the shipped model loaded there, a few steps
// trained with the same UI, the run visible on the service. The key stays in memory: nothing is
// stored unless "Remember on this device" is ticked, and a reload forgets it.
import { expect, test } from '@playwright/test';
import { remotePort } from '../../playwright.config';
import { spawnServe, type ServeProcess } from '../helpers/serve-process';

const STEPS = 3;
let serve: ServeProcess;

test.beforeAll(async () => {
  const origin = `http://127.0.0.1:${process.env.LOOPS_PREVIEW_PORT ?? 4173}`;
  serve = await spawnServe([
    // The port the build's connect-src allows (playwright.config.ts); the last --port given wins.
    '--port',
    String(remotePort),
    '--backend',
    'wasm',
    '--checkpoint-dir',
    'memory',
    '--allow-origin',
    origin,
  ]);
});
test.afterAll(async () => serve?.stop());

test('the lab trains on a remote service with the same UI; the key is not stored', async ({
  page,
}) => {
  await page.goto('/');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });

  await page.locator('#remote-settings summary').click();
  await page.getByLabel(/Service URL/).fill(serve.url);
  await page.getByLabel(/API key/).fill(serve.apiKey);
  await page.getByRole('button', { name: 'Train there' }).click();
  await expect(page.locator('#remote-status')).toContainText(`Training on ${serve.url}`, {
    timeout: 60_000,
  });
  await expect(page.locator('#remote-status')).toContainText('loops-tiny-llama');
  await expect(page.locator('#engine-details')).toContainText(`a remote service at ${serve.url}`);

  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.locator('#model-status')).toContainText('Ready:', { timeout: 120_000 });
  await page.getByRole('button', { name: /Moby-Dick chapter titles/ }).click();
  await page.getByLabel('LoRA rank').fill('4');
  await page.getByLabel('Steps', { exact: true }).fill(String(STEPS));
  await page.getByLabel('Max length (tokens)').fill('64');
  await page.getByLabel('Max length (tokens)').dispatchEvent('change');
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.locator('#train-status')).toContainText(`Finished at step ${STEPS}`, {
    timeout: 240_000,
  });
  const history = JSON.parse(
    (await page.locator('#loss-chart').getAttribute('data-history')) ?? '[]',
  ) as { train: number | null }[];
  expect(history.filter((p) => p.train !== null)).toHaveLength(STEPS);

  // The run lives on the service.
  const runs = (await (
    await fetch(`${serve.url}/api/v1/training_runs`, { headers: { 'X-API-Key': serve.apiKey } })
  ).json()) as { training_runs: { base_model: string }[] };
  expect(runs.training_runs.map((r) => r.base_model)).toContain('loops-tiny-llama');

  // Nothing stored; a reload forgets the key.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  expect(stored).not.toContain(serve.apiKey);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await page.locator('#remote-settings summary').click();
  await expect(page.getByLabel(/API key/)).toHaveValue('');
});
