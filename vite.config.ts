// Vite serves the app (index.html) and, in tests, the harness pages under tests/browser/pages.
// Vitest reads its Node-side configuration from the `test` block.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  optimizeDeps: {
    // Pre-bundle what the engine worker imports so the dev server never re-optimises (and reloads)
    // the page after the worker starts.
    include: [
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-wasm',
      'comlink',
    ],
  },
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/contract/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
