// The npm package as a third-party app uses it: build dist-lib/ (vite.lib.config.ts), then open
// examples/embed.html, which imports it by name ('loops-web') and trains and samples with its own
// code. Served by the Vite dev server (the page is not part of the app build).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { expect, test } from '@playwright/test';

const devServer = `http://127.0.0.1:${process.env.LOOPS_TEST_PORT ?? 5174}`;

test('the built library trains and samples in a page that imports it by name', async ({ page }) => {
  execFileSync('npx', ['vite', 'build', '--config', 'vite.lib.config.ts', '--logLevel', 'warn'], {
    stdio: 'inherit',
  });
  expect(existsSync('dist-lib/index.js')).toBe(true);
  const worker = readdirSync('dist-lib/assets').filter((f) => f.startsWith('engine.worker-'));
  expect(worker).toHaveLength(1);

  // The dev server watches dist-lib/ and reloads pages that use the old files; let that pass
  // before opening the page, so a late reload cannot wipe the run.
  await page.waitForTimeout(2000);
  await page.goto(`${devServer}/examples/embed.html`);
  let reloads = 0;
  page.on('load', () => reloads++);
  await page.getByRole('button', { name: /Train 6 steps/ }).click();
  await expect(page.locator('body')).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
  expect(reloads, 'the page reloaded during the run').toBe(0);
  const log = (await page.locator('#log').textContent()) ?? '';
  console.log(log);
  const losses = [...log.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  expect(losses).toHaveLength(6);
  expect(losses[5]!).toBeLessThan(losses[0]!);
  expect(log).toMatch(/sample: "Call me.+"/);
  // The worker came from the package's own files, not from the app's source.
  const scripts = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname),
  );
  expect(scripts.some((p) => p.startsWith('/dist-lib/assets/engine.worker-'))).toBe(true);
});
