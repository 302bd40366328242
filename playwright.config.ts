// Browser tier: Debian's Chromium (or CHROMIUM_PATH) with WebGPU on, against pages Vite serves on
// 127.0.0.1. Playwright's own browser download is never used.
import { defineConfig } from '@playwright/test';

const port = Number(process.env.LOOPS_TEST_PORT ?? 5174);

export const chromiumArgs = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export default defineConfig({
  testDir: 'tests/browser',
  globalSetup: './tests/browser/global-setup.ts',
  // Artifacts (screenshots, traces) go under test-results/playwright; Playwright empties this folder
  // at start, so it must not be test-results itself, where vitest's report lives.
  outputDir: 'test-results/playwright',
  timeout: 180_000,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'test-results/playwright.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: chromiumArgs,
    },
  },
  webServer: {
    command: `npx vite --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
