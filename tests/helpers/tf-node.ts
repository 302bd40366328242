// Node test setup: TF.js on the CPU backend (the unit tier's backend), and a leak guard.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Runs `fn` and fails if it leaves tensors behind. */
export async function expectNoLeaks<T>(fn: () => Promise<T> | T): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  expect(tf.memory().numTensors - before, 'tensors leaked').toBe(0);
  return out;
}

/** A tensor's dtype, shape and values, as backends are compared. */
export interface TensorOutput {
  dtype: string;
  shape: number[];
  values: number[];
}

/** Runs `build` on `backend` and reads every output; fails if it leaks tensors. */
export async function outputsOn(
  backend: string,
  build: () => tf.Tensor[],
): Promise<TensorOutput[]> {
  await tf.setBackend(backend);
  return expectNoLeaks(async () => {
    const tensors = tf.tidy(build);
    const out = await Promise.all(
      tensors.map(async (t) => ({ dtype: t.dtype, shape: t.shape, values: [...(await t.data())] })),
    );
    tf.dispose(tensors);
    return out;
  });
}

export { seededArray } from './seeded';
