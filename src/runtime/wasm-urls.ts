/**
 * Browser only: where the wasm backend's files are, as URLs the bundler gives them. Each binary is
 * its own asset (`no-inline`, also in the library build, where Vite would otherwise inline it as
 * base64), so a browser downloads only the one TF.js picks for it (threaded-SIMD, SIMD or plain),
 * found next to the chunk that imports this module with no configuration. The pthread script is
 * the same-origin copy runtime/wasm-threads.ts explains (scripts/vite/wasm-pthread.ts builds it).
 * Node code must not import this; there the wasm backend finds its files in node_modules.
 */
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url&no-inline';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url&no-inline';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url&no-inline';
import wasmPthread from 'virtual:wasm-pthread-worker';
import type { BackendOptions } from './backend';

export const WASM_PATHS: Record<string, string> = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
};

/** The backend options that point the wasm backend at these files. */
export const WASM_FILES: BackendOptions = { wasmPaths: WASM_PATHS, wasmPthreadUrl: wasmPthread };
