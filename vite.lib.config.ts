// The npm package: `npm run build:lib` writes dist-lib/: ESM for browsers (index.js) with the engine
// worker bundled as its own file (assets/engine.worker-*.js, wasm binaries inlined, so it needs no
// other files and works offline), found relative to index.js wherever a bundler or server puts it.
// Type declarations come from `tsc -p tsconfig.lib.json` (dist-lib/types).
import { defineConfig } from 'vite';

export default defineConfig({
  // Relative URLs: the worker is resolved next to index.js, not at the site root.
  base: './',
  publicDir: false,
  worker: {
    format: 'es',
    rolldownOptions: { output: { entryFileNames: 'assets/[name]-[hash].js' } },
  },
  build: {
    outDir: 'dist-lib',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    minify: false,
    lib: {
      entry: { index: 'src/index.ts' },
      formats: ['es'],
    },
    rolldownOptions: { output: { chunkFileNames: 'chunks/[name]-[hash].js' } },
  },
});
