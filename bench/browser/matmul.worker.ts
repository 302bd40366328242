/**
 * The backend's own large-matmul rate, in a worker of its own beside the engine's: the same
 * backend selection (src/runtime/backend.ts, with the engine's wasm kernels and binaries) in the
 * same kind of context, so it is the ceiling the engine's figures can be held against (model FLOPs
 * utilisation). The engine's worker is closed before this one runs, so they never share the cores.
 * Each size: one untimed call (kernel compile, first allocation), then `reps` timed calls, each
 * ending when the product has been read back; the median is reported.
 */
import * as tf from '@tensorflow/tfjs';
import { expose } from 'comlink';
import { selectBackend, type BackendName } from '../../src/runtime/backend';
import { WASM_PATHS } from '../../src/runtime/wasm-urls';
import { median } from '../lib/timing';

export interface MatmulRate {
  /** n of an [n, n] · [n, n] product. */
  readonly size: number;
  readonly medianMs: number;
  /** 2n³ floating-point operations over the median time. */
  readonly gflops: number;
  readonly samplesMs: number[];
}

async function timedProduct(a: tf.Tensor2D, b: tf.Tensor2D): Promise<number> {
  const t0 = performance.now();
  const c = tf.matMul(a, b); // [n, n]
  await c.data();
  const ms = performance.now() - t0;
  c.dispose();
  return ms;
}

async function rate(size: number, reps: number): Promise<MatmulRate> {
  const a = tf.randomNormal([size, size]) as tf.Tensor2D; // [n, n]
  const b = tf.randomNormal([size, size]) as tf.Tensor2D; // [n, n]
  try {
    await timedProduct(a, b); // warm-up
    const samplesMs: number[] = [];
    for (let i = 0; i < reps; i++) samplesMs.push(await timedProduct(a, b));
    const medianMs = median(samplesMs);
    return { size, medianMs, gflops: (2 * size ** 3) / (medianMs * 1e6), samplesMs };
  } finally {
    tf.dispose([a, b]);
  }
}

const api = {
  /** Selects `backend` in this worker, then measures each size in turn. */
  async run(backend: BackendName, sizes: readonly number[], reps: number): Promise<MatmulRate[]> {
    await selectBackend(backend, { wasmPaths: WASM_PATHS });
    const rates: MatmulRate[] = [];
    for (const size of sizes) rates.push(await rate(size, reps));
    return rates;
  },
};

export type MatmulWorkerApi = typeof api;

expose(api);
