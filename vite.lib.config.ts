// The npm package: `npm run build:lib` writes dist-lib/, minified: ESM for browsers (index.js) with
// the engine worker bundled as its own file (assets/engine.worker-*.js), found relative to index.js
// wherever a bundler or server puts it. The wasm backend's three binaries and its pthread script
// are separate files beside the worker (src/runtime/wasm-urls.ts), found relative to it with no
// configuration; a browser downloads only the binary TF.js picks for it (threaded-SIMD when the
// page is cross-origin isolated, else SIMD, else plain), and all of them cache like any asset.
// Type declarations come from `tsc -p tsconfig.lib.json` (dist-lib/types).
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { wasmPthreadWorker } from './scripts/vite/wasm-pthread';

const TFJS = fileURLToPath(new URL('./src/runtime/tfjs.ts', import.meta.url));

export default defineConfig({
  // Relative URLs: the worker is resolved next to index.js, not at the site root.
  base: './',
  publicDir: false,
  // TF.js without the parts the engine never uses (src/runtime/tfjs.ts).
  resolve: { alias: [{ find: /^@tensorflow\/tfjs$/, replacement: TFJS }] },
  worker: {
    format: 'es',
    plugins: () => [wasmPthreadWorker()],
    rolldownOptions: { output: { entryFileNames: 'assets/[name]-[hash].js' } },
  },
  build: {
    outDir: 'dist-lib',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    minify: true,
    lib: {
      entry: { index: 'src/index.ts' },
      formats: ['es'],
    },
    rolldownOptions: { output: { chunkFileNames: 'chunks/[name]-[hash].js' } },
  },
});
