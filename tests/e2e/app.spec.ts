// The lab driven as a person would, on the production build (service worker included): load, pick
// the demo set, train a few steps on the default shipped model, see the loss plotted and falling,
// sample base vs tuned, save, reload, resume, download the adapter (and check the zip), then load
// again with the network off. A screenshot of each stage is attached to the report; with
// LOOPS_UPDATE_SCREENSHOT=1 the trained page is also copied to docs/screenshots/app.png.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { strFromU8, unzipSync } from 'fflate';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { watchCsp } from '../helpers/csp-watch';

// A few quick steps in CI. Making the README screenshot (LOOPS_UPDATE_SCREENSHOT=1), the run uses
// the page's default learning rate and 40 steps, enough for the tuned answers to take the format.
const SCREENSHOT_RUN = !!process.env.LOOPS_UPDATE_SCREENSHOT;
const STEPS = SCREENSHOT_RUN ? 40 : 8;
const RANK = 4;

interface Point {
  step: number;
  train: number | null;
  heldout: number | null;
}

async function snap(page: Page, info: TestInfo, name: string): Promise<string> {
  const path = info.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await info.attach(name, { path, contentType: 'image/png' });
  return path;
}

async function history(page: Page): Promise<Point[]> {
  return JSON.parse((await page.locator('#loss-chart').getAttribute('data-history')) ?? '[]');
}

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await expect(page.locator('#model-status')).toContainText('Ready:', { timeout: 120_000 });
}

test('a class fine-tunes the shipped model, offline after the first visit', async ({
  page,
  context,
}, info) => {
  const started = Date.now();
  const mark = (stage: string) =>
    console.log(`${((Date.now() - started) / 1000).toFixed(1)} s: ${stage}`);
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[page] ${m.text()}`);
  });
  // The whole run happens under the app's Content-Security-Policy (workers/security-headers.ts).
  const csp = await watchCsp(page);

  // 1. Load: the default (shipped) model is selected and ready without a download.
  await page.goto('/');
  await ready(page);
  const shipped = page.locator('.model-option:has(input:checked)');
  await expect(shipped).toContainText('shipped');
  await expect(page.locator('#engine-status')).toContainText('Engine ready on the');
  mark('loaded');
  await snap(page, info, '01-loaded');

  // 2. Data: the demo set, one click; the preview marks supervised tokens.
  await page.getByRole('button', { name: /Moby-Dick chapter titles/ }).click();
  await expect(page.locator('#data-summary')).toContainText('472 chat examples');
  await expect(page.locator('#data-preview .tok.sup').first()).toBeVisible();
  await expect(page.locator('#data-preview .tok.prompt').first()).toBeVisible();

  // 3. Train a few short steps.
  await page.getByLabel('LoRA rank').fill(String(RANK));
  await page.getByLabel('Steps', { exact: true }).fill(String(STEPS));
  if (!SCREENSHOT_RUN) {
    await page.getByLabel('Learning rate', { exact: true }).fill('0.01');
    await page.getByLabel('Max length (tokens)').fill('64');
    await page.getByLabel('Max length (tokens)').dispatchEvent('change');
  }
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-train-state', 'running');
  // The page stays responsive while the worker trains: the longest gap between animation frames
  // over one second of training.
  await expect(page.locator('#stat-step')).not.toHaveText('0', { timeout: 60_000 });
  const longestFrameMs = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        let last = performance.now();
        let worst = 0;
        const end = last + 1000;
        const tick = (now: number) => {
          worst = Math.max(worst, now - last);
          last = now;
          if (now < end) requestAnimationFrame(tick);
          else resolve(worst);
        };
        requestAnimationFrame(tick);
      }),
  );
  console.log(`longest frame while training: ${longestFrameMs.toFixed(0)} ms`);
  expect(longestFrameMs).toBeLessThan(500);
  // Pause holds between steps; Resume goes on.
  await page.getByRole('button', { name: 'Pause' }).click();
  // Pause takes effect when the running step ends, however long the machine's load makes it.
  await expect(page.locator('body')).toHaveAttribute('data-train-state', 'paused', {
    timeout: 60_000,
  });
  const pausedAt = await page.locator('#stat-step').textContent();
  await page.waitForTimeout(1500);
  await expect(page.locator('#stat-step')).toHaveText(pausedAt ?? '');
  await snap(page, info, '02-paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-train-state', 'running');
  await expect(page.locator('#train-status')).toContainText(`Finished at step ${STEPS}`, {
    timeout: 240_000,
  });
  mark('trained');
  const points = await history(page);
  const train = points.filter((p) => p.train !== null).map((p) => p.train as number);
  const held = points.filter((p) => p.heldout !== null).map((p) => p.heldout as number);
  console.log(`train loss ${train.map((l) => l.toFixed(3)).join(' → ')}`);
  console.log(`held-out loss ${held.map((l) => l.toFixed(3)).join(' → ')}`);
  expect(train).toHaveLength(STEPS);
  expect(train[STEPS - 1]!).toBeLessThan(train[0]!);
  expect(held.length).toBeGreaterThanOrEqual(2);
  expect(held[held.length - 1]!).toBeLessThan(held[0]!);
  const canvas = await page.locator('#loss-chart canvas').boundingBox();
  expect(canvas?.width ?? 0).toBeGreaterThan(200);

  // 4. Try it: base and tuned answers side by side.
  if (!SCREENSHOT_RUN) await page.getByLabel('Max tokens', { exact: true }).fill('16');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.locator('#try-tuned small')).toBeVisible({ timeout: 120_000 });
  await expect(page.locator('#try-base small')).toBeVisible();
  await expect(page.locator('#try-tuned-h')).toHaveText(`Tuned adapter (step ${STEPS})`);
  mark('sampled');
  const trainedShot = await snap(page, info, '03-trained-and-sampled');
  if (SCREENSHOT_RUN) {
    mkdirSync('docs/screenshots', { recursive: true });
    copyFileSync(trainedShot, 'docs/screenshots/app.png');
  }

  // 5. Save under a name.
  await page.getByLabel('Checkpoint name').fill('lesson-1');
  await page.getByRole('button', { name: 'Save checkpoint' }).click();
  await expect(page.locator('#ckpt-rows tr[data-path$="/lesson-1"]')).toBeVisible();

  // 6. Reload and resume: same step, same curve.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await expect(page.locator('#resume-text')).toContainText(`saved at step ${STEPS}`);
  await snap(page, info, '04-after-reload');
  await page.getByRole('button', { name: 'Resume last run' }).click();
  await expect(page.locator('#resume-banner')).toBeHidden({ timeout: 60_000 });
  await expect(page.locator('#stat-step')).toHaveText(String(STEPS));
  expect((await history(page)).filter((p) => p.train !== null)).toHaveLength(STEPS);
  await expect(page.getByRole('button', { name: 'Continue training' })).toBeEnabled();
  mark('resumed');
  await snap(page, info, '05-resumed');

  // 7. Download the adapter: a PEFT zip.
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download lesson-1' }).click();
  const file = await (await download).path();
  const entries = unzipSync(new Uint8Array(readFileSync(file)));
  expect(Object.keys(entries)).toEqual(
    expect.arrayContaining(['adapter_model.safetensors', 'adapter_config.json']),
  );
  const config = JSON.parse(strFromU8(entries['adapter_config.json']!));
  expect(config.r).toBe(RANK);
  expect(config.peft_type).toBe('LORA');
  const weights = entries['adapter_model.safetensors']!;
  const headerLength = Number(
    new DataView(weights.buffer, weights.byteOffset).getBigUint64(0, true),
  );
  const header = JSON.parse(strFromU8(weights.subarray(8, 8 + headerLength)));
  const keys = Object.keys(header).filter((k) => k !== '__metadata__');
  expect(keys.some((k) => k.endsWith('lora_A.weight'))).toBe(true);
  expect(keys.some((k) => k.endsWith('lora_B.weight'))).toBe(true);
  mark('downloaded');

  // 8. Import the downloaded adapter under another name, then delete it (two clicks).
  await page.getByText('Import a PEFT adapter').click();
  await page.getByLabel(/A \.zip, or adapter_model/).setInputFiles({
    name: 'lesson-1-lora.zip',
    mimeType: 'application/zip',
    buffer: readFileSync(file),
  });
  await page.getByLabel('Name', { exact: true }).fill('from-zip');
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const imported = page.locator('#ckpt-rows tr[data-path$="/from-zip"]');
  await expect(imported).toContainText('imported');
  await page.getByRole('button', { name: 'Delete from-zip' }).click();
  await page.getByRole('button', { name: 'Confirm delete from-zip' }).click();
  await expect(imported).toHaveCount(0);

  // 9. Offline: the service worker serves the app, the engine, the shipped model and the data.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  await context.setOffline(true);
  const response = await page.reload();
  expect(response?.fromServiceWorker()).toBe(true);
  await ready(page);
  await page.getByRole('button', { name: /Moby-Dick chapter titles/ }).click();
  await expect(page.locator('#data-summary')).toContainText('472 chat examples');
  mark('offline');
  await snap(page, info, '06-offline');
  await context.setOffline(false);
  expect(csp).toEqual({ events: [], console: [] });
});
