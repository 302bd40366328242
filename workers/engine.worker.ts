/**
 * The engine worker: a few lines that expose the engine through comlink. The wasm binaries are
 * bundled by Vite and their URLs handed to the engine, so the wasm backend works offline.
 */
import { expose } from 'comlink';
import { createBrowserEngine } from '../src/engine/browser-engine';
import type { EngineInitOptions } from '../src/engine/engine';
import { installErrorTransfer } from '../src/errors/comlink-errors';
import type { BackendRequest } from '../src/runtime/backend';
import { WASM_FILES } from '../src/runtime/wasm-urls';

installErrorTransfer();

const engine = createBrowserEngine(new URL(import.meta.env.BASE_URL, self.location.origin).href);
const init = engine.init.bind(engine);
engine.init = (backend: BackendRequest, options: EngineInitOptions = {}) =>
  init(backend, { ...WASM_FILES, ...options });

expose(engine);
