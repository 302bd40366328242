// The npm package as a third-party app uses it: build dist-lib/ (vite.lib.config.ts), then open
// examples/embed.html, which imports it by name ('loops-web') and trains and samples with its own
// code (examples/embed.js). Served by the Vite dev server (the page is not part of the app build),
// which isolates it and sends the CSP: the engine finds its wasm files next to its worker, fetches
// only the binary it runs (threaded-SIMD here) and runs threads under `worker-src 'self'`.
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
  // Every request, the engine worker's and its pthreads' included.
  const fetched: string[] = [];
  page.context().on('request', (r) => fetched.push(new URL(r.url()).pathname));
  await page.getByRole('button', { name: /Train 6 steps/ }).click();
  await expect(page.locator('body')).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
  expect(reloads, 'the page reloaded during the run').toBe(0);
  const log = (await page.locator('#log').textContent()) ?? '';
  console.log(log);
  const losses = [...log.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  expect(losses).toHaveLength(6);
  expect(losses[5]!).toBeLessThan(losses[0]!);
  expect(log).toMatch(/sample: "Call me.+"/);
  expect(log).toMatch(/wasm threads: \d+ \(threaded-simd binary\)/);
  const binaries = fetched.filter((p) => p.endsWith('.wasm'));
  expect(binaries).toHaveLength(1);
  expect(binaries[0]).toMatch(/^\/dist-lib\/assets\/tfjs-backend-wasm-threaded-simd-[\w-]+\.wasm$/);
  expect(fetched.some((p) => /^\/dist-lib\/assets\/wasm-pthread-[\w-]+\.js$/.test(p))).toBe(true);
  // The worker came from the package's own files, not from the app's source.
  const scripts = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname),
  );
  expect(scripts.some((p) => p.startsWith('/dist-lib/assets/engine.worker-'))).toBe(true);
});
