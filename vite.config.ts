// Vite serves the app (index.html) and, in tests, the harness pages under tests/browser/pages.
// Every response of the dev server and of `vite preview` carries the cross-origin isolation
// headers (wasm threads) and the Content-Security-Policy (workers/security-headers.ts).
// Production builds add a service worker (workers/service-worker.ts, through vite-plugin-pwa's
// injectManifest) that precaches the app shell, the engine worker with its wasm files, the
// shipped models (public/models) and the demo datasets (public/datasets), so a lab loads with no
// network after one visit, and that adds those headers for static hosts that cannot.
// Vitest reads its Node-side configuration from the `test` block.
import { existsSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { configDefaults, defineConfig } from 'vitest/config';
import { wasmPthreadWorker } from './scripts/vite/wasm-pthread';
import { contentSecurityPolicy, parseSources, securityHeaders } from './workers/security-headers';

// WebGPU tests in Node run TF.js's webgpu backend on Dawn (the `webgpu` package) over the
// SwiftShader Vulkan driver that Debian's Chromium ships. The dynamic loader reads
// LD_LIBRARY_PATH only when a process starts, so it is set here, before Vitest forks its workers
// (tests/helpers/webgpu-node.ts).
const CHROMIUM_LIBS = dirname(realChromium(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'));
if (process.env.VITEST && existsSync(`${CHROMIUM_LIBS}/libvulkan.so.1`)) {
  process.env.LD_LIBRARY_PATH = [CHROMIUM_LIBS, process.env.LD_LIBRARY_PATH]
    .filter(Boolean)
    .join(':');
  process.env.VK_DRIVER_FILES ??= `${CHROMIUM_LIBS}/vk_swiftshader_icd.json`;
}

const TFJS_ALIAS = {
  find: /^@tensorflow\/tfjs$/,
  replacement: fileURLToPath(new URL('./src/runtime/tfjs.ts', import.meta.url)),
};

/** The unit tests that run on Dawn (tests/helpers/webgpu-node.ts), in their own project. */
const WEBGPU_TESTS = 'tests/unit/webgpu/**/*.test.ts';
/** WebGPU files that need a fresh backend (they count pipelines compiled from cold): isolated. */
const WEBGPU_COLD = ['tests/unit/webgpu/warm-up.test.ts'];

/** Extra connect-src origins (a hub mirror; the tests' cross-origin hub fixture). */
const EXTRA_CONNECT = parseSources(process.env.LOOPS_CONNECT_SRC);

/** Largest file the service worker precaches: the shipped models are a few MiB; the worker ~2.5 MiB. */
const PRECACHE_LIMIT = 64 * 2 ** 20;

/**
 * The policy as a `<meta>` in the built index.html too: a static host's first visit, before the
 * service worker adds the header, is then under it as well (workers get theirs from the header).
 */
const cspMeta: Plugin = {
  name: 'loops-csp-meta',
  apply: 'build',
  transformIndexHtml: () => [
    {
      tag: 'meta',
      attrs: {
        'http-equiv': 'Content-Security-Policy',
        content: contentSecurityPolicy({ connect: EXTRA_CONNECT }),
      },
      injectTo: 'head-prepend',
    },
  ],
};

export default defineConfig({
  // Cross-origin isolation (wasm threads) and the Content-Security-Policy on every response.
  server: { host: '127.0.0.1', headers: securityHeaders({ connect: EXTRA_CONNECT, dev: true }) },
  preview: { host: '127.0.0.1', headers: securityHeaders({ connect: EXTRA_CONNECT }) },
  worker: { format: 'es', plugins: () => [wasmPthreadWorker()] },
  // workers/service-worker.ts reads the extra connect-src origins the build was made with.
  define: { __LOOPS_CONNECT_SRC__: JSON.stringify(EXTRA_CONNECT) },
  resolve: {
    alias: [
      // examples/embed.html imports the built package by its name, as an app with `npm install
      // loops-web` would; package.json's `exports` point the name at the same file.
      {
        find: 'loops-web',
        replacement: fileURLToPath(new URL('./dist-lib/index.js', import.meta.url)),
      },
      // Browser bundles: TF.js without the parts the engine never uses (src/runtime/tfjs.ts).
      // Vitest (Node) keeps the package.
      ...(process.env.VITEST ? [] : [TFJS_ALIAS]),
    ],
  },
  plugins: [
    wasmPthreadWorker(),
    cspMeta,
    VitePWA({
      // workers/service-worker.ts: precache + the isolation and policy headers for static hosts.
      strategies: 'injectManifest',
      srcDir: 'workers',
      filename: 'service-worker.ts',
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
      injectManifest: {
        globPatterns: ['**/*.{html,js,css,svg,wasm,json,jsonl,safetensors,md,webmanifest}'],
        maximumFileSizeToCacheInBytes: PRECACHE_LIMIT,
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
    environment: 'node',
    testTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'tests/unit/**/*.test.ts',
            'tests/contract/**/*.test.ts',
            'tests/reliability/**/*.test.ts',
            'tests/package/**/*.test.ts',
          ],
          exclude: [...configDefaults.exclude, WEBGPU_TESTS],
          // One `loops-web serve` process for the contract tests' `test-remote` placement.
          globalSetup: ['tests/helpers/remote-global-setup.ts'],
        },
      },
      // Isolated like the rest of the suite: a fresh TF.js, so nothing is compiled yet.
      { extends: true, test: { name: 'webgpu-cold', include: WEBGPU_COLD } },
      {
        // The WebGPU files share one worker process, one after the other: TF.js (and with it the
        // webgpu backend's pipeline cache) is imported once, so a pipeline SwiftShader compiled
        // for one file (~1 s each) is reused by the next. Each file sets the backend and the
        // kernel switch it needs in beforeAll and puts the cpu backend back in afterAll.
        extends: true,
        test: {
          name: 'webgpu',
          include: [WEBGPU_TESTS],
          exclude: [...configDefaults.exclude, ...WEBGPU_COLD],
          isolate: false,
          fileParallelism: false,
        },
      },
    ],
  },
});

/** Debian's /usr/bin/chromium is a shell script; its libraries live in /usr/lib/chromium. */
function realChromium(path: string): string {
  const libs = '/usr/lib/chromium/chromium';
  if (existsSync(libs) && path === '/usr/bin/chromium') return libs;
  try {
    return realpathSync(path);
  } catch {
    return libs;
  }
}
