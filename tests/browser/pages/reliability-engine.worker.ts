// Test worker: the product's engine worker (workers/engine.worker.ts) plus fault hooks the
// reliability harness calls through the same comlink link: lose the GPU device, crash with an
// uncaught error, end the worker from inside, and report whether eval is allowed (CSP check).
import { expose } from 'comlink';
import { createBrowserEngine } from '../../../src/engine/browser-engine';
import type { EngineInitOptions } from '../../../src/engine/engine';
import { installErrorTransfer } from '../../../src/errors/comlink-errors';
import { currentGpuDevice, type BackendRequest } from '../../../src/runtime/backend';
import { WASM_FILES } from '../../../src/runtime/wasm-urls';

installErrorTransfer();

const engine = createBrowserEngine(new URL(import.meta.env.BASE_URL, self.location.origin).href);
const init = engine.init.bind(engine);

const hooks = {
  init: (backend: BackendRequest, options: EngineInitOptions = {}) =>
    init(backend, { ...WASM_FILES, ...options }),
  /** Destroys the webgpu backend's device, as a driver reset would; false when there is none. */
  destroyDevice(): boolean {
    const device = currentGpuDevice();
    device?.destroy();
    return device !== null;
  },
  /** An uncaught error in the worker, after this call has answered. */
  crash(): void {
    setTimeout(() => {
      throw new Error('simulated engine crash');
    }, 0);
  },
  /** The worker ends itself (self.close()), after this call has answered. */
  exit(): void {
    setTimeout(() => self.close(), 0);
  },
  /** Whether this worker may evaluate strings as code (false under a CSP without unsafe-eval). */
  evalAllowed(): boolean {
    try {
      return new Function('return 1')() === 1;
    } catch {
      return false;
    }
  },
};

expose(Object.assign(engine, hooks));
