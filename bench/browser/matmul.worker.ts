/**
 * The backend's own large-matmul rate, in a worker of its own beside the engine's: the same
 * backend selection (src/runtime/backend.ts, with the engine's wasm kernels and binaries) in the
 * same kind of context, so it is the ceiling the engine's figures can be held against (model FLOPs
 * utilisation). The engine's worker is closed before this one runs, so they never share the cores.
 * Each size is measured by bench/lib/matmul-rate.ts, as in Node.
 */
import { expose } from 'comlink';
import { selectBackend, type BackendName } from '../../src/runtime/backend';
import { WASM_FILES } from '../../src/runtime/wasm-urls';
import { matmulRate, type MatmulRate } from '../lib/matmul-rate';

export type { MatmulRate };

const api = {
  /** Selects `backend` in this worker (wasm: on `threads`), then measures each size in turn. */
  async run(
    backend: BackendName,
    sizes: readonly number[],
    reps: number,
    threads?: number,
  ): Promise<MatmulRate[]> {
    await selectBackend(backend, { ...WASM_FILES, wasmThreads: threads });
    const rates: MatmulRate[] = [];
    for (const size of sizes) rates.push(await matmulRate(size, reps));
    return rates;
  },
};

export type MatmulWorkerApi = typeof api;

expose(api);
