// The package's Node entry, `loops-web/node` (src/node.ts): `npm run build:lib` writes
// dist-lib/node.js after the browser build (vite.lib.config.ts), as an ES module for Node with the
// package's dependencies left as imports (npm installs them next to it) and Node's built-ins
// external. The engine runs in-process there; shipped models are read from the package's own
// public/models folder (src/engine/node-engine.ts). Types: `tsc -p tsconfig.lib.json`.
import { defineConfig } from 'vite';

export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'dist-lib',
    emptyOutDir: false, // the browser build just wrote index.js and its assets there
    target: 'node20',
    sourcemap: false,
    minify: false,
    ssr: 'src/node.ts',
    rolldownOptions: {
      output: { entryFileNames: 'node.js', chunkFileNames: 'node-chunks/[name]-[hash].js' },
    },
  },
});
