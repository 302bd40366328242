/**
 * Vite plugin: the wasm backend's pthread worker as a same-origin script, so threads run under a
 * Content-Security-Policy with `worker-src 'self'` (src/runtime/wasm-threads.ts says why TF.js's
 * own `blob:` workers cannot). `import url from 'virtual:wasm-pthread-worker'` gives its URL.
 *
 * The script is made from the package's two files, unchanged: the Emscripten module factory
 * (`WasmBackendModuleThreadedSimd`, wasm-out/tfjs-backend-wasm-threaded-simd.js) first, then the
 * pthread message loop (wasm-out/…worker.js, which the package ships as a string). The loop loads
 * the factory with `importScripts(<blob: URL>)` before calling it; the factory is already defined
 * here, so that one `importScripts` is made a no-op instead of a load the policy would refuse.
 *
 * Dev server: served at `<base>@loops/wasm-pthread.js` with the server's headers (the worker needs
 * COEP and the policy like any other). Builds: emitted as an asset beside the chunk that imports
 * it, and found relative to it (`import.meta.ROLLUP_FILE_URL_…`), so the library's copy sits next
 * to its engine worker.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Plugin, ResolvedConfig } from 'vite';

const VIRTUAL_ID = 'virtual:wasm-pthread-worker';
const RESOLVED_ID = `\0${VIRTUAL_ID}`;
const FILE_NAME = 'wasm-pthread.js';
const DEV_PATH = `@loops/${FILE_NAME}`;

/** The pthread script's source, from the installed @tensorflow/tfjs-backend-wasm. */
export function pthreadScript(): string {
  const require = createRequire(import.meta.url);
  const base = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd';
  const factory = readFileSync(require.resolve(`${base}.js`), 'utf8');
  const { wasmWorkerContents } = require(`${base}.worker.js`) as { wasmWorkerContents: string };
  // The package's string holds the loop's source with its "\n" escapes already turned into
  // newlines (it is a template literal); TF.js escapes them back before making its blob, as here.
  const loop = wasmWorkerContents.replace(/\n/g, '\\n');
  return [
    '// The wasm backend pthread worker: @tensorflow/tfjs-backend-wasm (Apache-2.0), unchanged',
    '// but for the no-op importScripts (scripts/vite/wasm-pthread.ts).',
    factory,
    'self.importScripts = function () {};',
    loop,
  ].join('\n');
}

export function wasmPthreadWorker(): Plugin {
  let config: ResolvedConfig;
  let source: string | null = null;
  const script = () => (source ??= pthreadScript());
  return {
    name: 'loops-wasm-pthread-worker',
    configResolved(resolved) {
      config = resolved;
    },
    resolveId(id) {
      return id === VIRTUAL_ID ? RESOLVED_ID : null;
    },
    load(id) {
      if (id !== RESOLVED_ID) return null;
      if (config.command === 'serve') {
        return `export default ${JSON.stringify(new URL(config.base + DEV_PATH, 'http://x').pathname)};`;
      }
      const ref = this.emitFile({ type: 'asset', name: FILE_NAME, source: script() });
      return `export default import.meta.ROLLUP_FILE_URL_${ref};`;
    },
    configureServer(server) {
      const path = new URL(config.base + DEV_PATH, 'http://x').pathname;
      server.middlewares.use((req, res, next) => {
        if ((req.url ?? '').split('?')[0] !== path) return next();
        const headers = { ...config.server.headers, 'Content-Type': 'text/javascript' };
        for (const [name, value] of Object.entries(headers)) {
          if (value !== undefined) res.setHeader(name, value as string);
        }
        res.end(script());
      });
    },
  };
}
