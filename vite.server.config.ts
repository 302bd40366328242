// `loops-web serve` for the npm package: `npm run build:lib` also writes dist-lib/server/cli.js,
// the command line (src/server/cli.ts) built for Node with its dependencies left as imports, which
// bin/loops-web.js runs. In a checkout of the repository the bin runs the sources through tsx.
import { defineConfig } from 'vite';

export default defineConfig({
  publicDir: false,
  build: {
    ssr: 'src/server/cli.ts',
    outDir: 'dist-lib/server',
    emptyOutDir: true,
    target: 'node20',
    sourcemap: false,
    minify: false,
    rolldownOptions: { output: { entryFileNames: 'cli.js', format: 'es' } },
  },
});
