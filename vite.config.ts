// Vite serves the app (index.html) and, in tests, the harness pages under tests/browser/pages.
// Production builds add a service worker (vite-plugin-pwa, Workbox generateSW) that precaches the
// app shell, the engine worker with its wasm binaries, the shipped models (public/models) and the
// demo datasets (public/datasets), so a lab loads with no network after one visit.
// Vitest reads its Node-side configuration from the `test` block.
import { fileURLToPath } from 'node:url';
import { VitePWA } from 'vite-plugin-pwa';
import { defineConfig } from 'vitest/config';

/** Largest file the service worker precaches: the shipped models are a few MiB; the worker ~2.5 MiB. */
const PRECACHE_LIMIT = 64 * 2 ** 20;

/**
 * Service-worker route handler (serialised into sw.js, so it must not use anything from this
 * module): a cached copy, else the network, else 404 when offline.
 */
async function offlineModelFile({ request }: { request: Request }): Promise<Response> {
  const hit = await caches.match(request.url, { ignoreSearch: true });
  if (hit) return request.method === 'HEAD' ? new Response(null, { headers: hit.headers }) : hit;
  try {
    return await fetch(request);
  } catch {
    return new Response(null, { status: 404, statusText: 'Not in the offline cache' });
  }
}

export default defineConfig({
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  resolve: {
    // examples/embed.html imports the built package by its name, as an app with `npm install
    // loops-web` would; package.json's `exports` point the name at the same file.
    alias: { 'loops-web': fileURLToPath(new URL('./dist-lib/index.js', import.meta.url)) },
  },
  plugins: [
    VitePWA({
      registerType: 'autoUpdate',
      // src/app/offline.ts registers it (and reports "ready to work offline").
      injectRegister: false,
      manifest: {
        name: 'loops-web lab: LoRA fine-tuning in your browser',
        short_name: 'loops-web lab',
        description: 'Fine-tune a small language model with LoRA in the browser, offline.',
        theme_color: '#0b4f6c',
        background_color: '#eef2f6',
        display: 'standalone',
        icons: [{ src: 'favicon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
      },
      workbox: {
        globPatterns: ['**/*.{html,js,css,svg,wasm,json,jsonl,safetensors,md,webmanifest}'],
        maximumFileSizeToCacheInBytes: PRECACHE_LIMIT,
        // Model and dataset files are fetched with their plain URLs; no cache-busting query.
        ignoreURLParametersMatching: [/.*/],
        navigateFallback: 'index.html',
        // The engine asks whether a model file exists with HEAD (and probes optional files such as
        // model.safetensors.index.json); precaching answers GET only. These routes answer HEAD from
        // the caches and, offline, call a shipped-model file the precache lacks absent (404): the
        // precache lists every file under public/models.
        runtimeCaching: (['HEAD', 'GET'] as const).map((method) => ({
          method,
          urlPattern: ({ url, sameOrigin }: { url: URL; sameOrigin: boolean }) =>
            sameOrigin && url.pathname.includes('/models/'),
          handler: offlineModelFile,
        })),
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  optimizeDeps: {
    // Pre-bundle what the engine worker and the app import so the dev server never re-optimises
    // (and reloads) the page after the worker starts.
    include: [
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-wasm',
      'comlink',
      'uplot',
      'fflate',
      '@huggingface/tokenizers',
      '@huggingface/jinja',
      'idb-keyval',
      'quickjs-emscripten-core',
      '@jitl/quickjs-singlefile-browser-release-sync',
    ],
  },
  test: {
    include: [
      'tests/unit/**/*.test.ts',
      'tests/contract/**/*.test.ts',
      'tests/reliability/**/*.test.ts',
    ],
    environment: 'node',
    testTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
