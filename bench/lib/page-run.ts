/**
 * One measurement in a fresh browser context, as the Playwright benches (bench/chromium.ts,
 * bench/peer.ts) run it: open the bench page, forward its errors and its `bench: ` progress lines,
 * wait until it says it is ready, measure, close. A failure becomes the run's status, so one
 * backend or variant that fails does not stop the others.
 */
import type { Browser, Page } from '@playwright/test';

export interface PageRun<T> {
  /** 'ok', or 'failed: <message>' (the first line of the error). */
  readonly status: string;
  /** The whole run: page load and the measurement. */
  readonly wallSeconds: number;
  readonly result: T | null;
}

/** How the page's output is labelled: progress lines `<log>: …`, errors `<error> page error: …`. */
export interface PageLabels {
  readonly log: string;
  readonly error: string;
}

/**
 * Opens `url` in a new context of `browser`, waits for `document.body.dataset.ready`, then
 * returns what `measure` gives (it gets the page and the seconds since the start).
 */
export async function runBenchPage<T>(
  browser: Browser,
  url: string,
  labels: PageLabels,
  measure: (page: Page, seconds: () => number) => Promise<T>,
): Promise<PageRun<T>> {
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(0);
    page.on('pageerror', (e) => console.error(`${labels.error} page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`${labels.error} console: ${m.text()}`);
      else if (m.text().startsWith('bench: ')) console.log(`${labels.log}: ${m.text().slice(7)}`);
    });
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    const result = await measure(page, seconds);
    return { status: 'ok', wallSeconds: seconds(), result };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? String(error);
    return { status: `failed: ${message}`, wallSeconds: seconds(), result: null };
  } finally {
    await context.close();
  }
}
