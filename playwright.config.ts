// Browser tier: Debian's Chromium (or CHROMIUM_PATH) with WebGPU on, against pages Vite serves on
// 127.0.0.1. Playwright's own browser download is never used.
// Two projects, one JSON report: 'browser' (tests/browser: harness pages on the Vite dev server) and
// 'app' (tests/e2e: the lab as a person uses it, on the production build with its service worker,
// served by `vite preview`). Both servers send the isolation headers and the CSP
// (workers/security-headers.ts); the production build's policy also lets it reach the dev server,
// which serves the hub fixture (test-results/hub) to it as a hub on another origin.
import { defineConfig } from '@playwright/test';

const port = Number(process.env.LOOPS_TEST_PORT ?? 5174);
const previewPort = Number(process.env.LOOPS_PREVIEW_PORT ?? 4173);
/** The local hub (scripts/serve-hub.ts) of tests/e2e/lab-hub.spec.ts. */
export const hubPort = Number(process.env.LOOPS_HUB_PORT ?? 5175);
/** The `loops-web serve` of tests/e2e/remote.spec.ts (5176 is bench/peer.ts's default). */
export const remotePort = Number(process.env.LOOPS_REMOTE_PORT ?? 5178);
/**
 * Origins the production build may connect to besides its own and the hub's: the dev server (the
 * hub fixture on another origin), the local hub and the remote service, as README says a lab that
 * uses a mirror or a service must be built (`LOOPS_CONNECT_SRC`).
 */
const connectSrc = [port, hubPort, remotePort].map((p) => `http://127.0.0.1:${p}`).join(' ');

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
  globalSetup: './tests/browser/global-setup.ts',
  // Artifacts (screenshots, traces) go under test-results/playwright; Playwright empties this folder
  // at start, so it must not be test-results itself, where vitest's report lives.
  outputDir: 'test-results/playwright',
  timeout: 180_000,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'test-results/playwright.json' }]],
  projects: [
    { name: 'browser', testDir: 'tests/browser', use: { baseURL: `http://127.0.0.1:${port}` } },
    {
      name: 'app',
      testDir: 'tests/e2e',
      timeout: 360_000,
      use: { baseURL: `http://127.0.0.1:${previewPort}`, viewport: { width: 1366, height: 900 } },
    },
  ],
  use: {
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: chromiumArgs,
    },
  },
  webServer: [
    {
      command: `npx vite --host 127.0.0.1 --port ${port} --strictPort`,
      url: `http://127.0.0.1:${port}/`,
      reuseExistingServer: !process.env.CI,
      timeout: 120_000,
    },
    {
      // The production build (service worker included) into its own folder, then served.
      command: `npx vite build --outDir test-results/app-dist --emptyOutDir && npx vite preview --outDir test-results/app-dist --host 127.0.0.1 --port ${previewPort} --strictPort`,
      env: { LOOPS_CONNECT_SRC: connectSrc },
      url: `http://127.0.0.1:${previewPort}/`,
      reuseExistingServer: !process.env.CI,
      timeout: 240_000,
    },
  ],
});
