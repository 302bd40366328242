/**
 * The backend's own large-matmul rate: C = A·B for square float32 operands, one untimed call first
 * (kernel compile, first allocation), then `reps` timed calls, each ending when the product has
 * been read back; the median is reported. It is the denominator of model FLOPs utilisation: what
 * this backend reaches on the product it is best at. Used in Node (bench/run.ts, real-size.ts) and
 * in a browser worker (bench/browser/matmul.worker.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { median } from './timing';

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

export async function matmulRate(size: number, reps: number): Promise<MatmulRate> {
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
