/**
 * The engine worker: a few lines that expose the engine through comlink. The wasm binaries are
 * bundled by Vite and their URLs handed to the engine, so the wasm backend works offline.
 */
import { expose } from 'comlink';
import { Engine } from '../src/engine/engine';
import { installErrorTransfer } from '../src/errors/comlink-errors';
import type { BackendOptions, BackendRequest } from '../src/runtime/backend';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

installErrorTransfer();

const wasmPaths = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
};

class WorkerEngine extends Engine {
  override init(backend: BackendRequest, options: BackendOptions = {}) {
    return super.init(backend, { wasmPaths, ...options });
  }
}

expose(new WorkerEngine());
