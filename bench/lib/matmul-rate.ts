/**
 * The backend's own large-matmul rate: C = A·B for square float32 operands, warm-up first, median
 * of `reps`. It is the denominator of model FLOPs utilisation: what this backend reaches on the
 * product it is best at.
 */
import * as tf from '@tensorflow/tfjs';
import { median } from './timing';

export interface MatmulRate {
  readonly size: number;
  readonly ms: number;
  readonly gflops: number;
}

export async function matmulRate(size: number, reps: number): Promise<MatmulRate> {
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, size]);
  try {
    tf.dispose(await tf.matMul(a, b).data()); // warm-up: compile and first allocation
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      times.push(performance.now() - t0);
      c.dispose();
    }
    const ms = median(times);
    return { size, ms, gflops: (2 * size ** 3) / (ms * 1e6) };
  } finally {
    tf.dispose([a, b]);
  }
}
