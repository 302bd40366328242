/**
 * The engine worker: a few lines that expose the engine through comlink. The wasm binaries are
 * bundled by Vite and their URLs handed to the engine, so the wasm backend works offline.
 */
import { expose } from 'comlink';
import { Engine } from '../src/engine/engine';
import { installErrorTransfer } from '../src/errors/comlink-errors';
import type { BackendOptions, BackendRequest } from '../src/runtime/backend';
import { WASM_PATHS } from '../src/runtime/wasm-urls';

installErrorTransfer();

class WorkerEngine extends Engine {
  override init(backend: BackendRequest, options: BackendOptions = {}) {
    return super.init(backend, { wasmPaths: WASM_PATHS, ...options });
  }
}

expose(new WorkerEngine());
