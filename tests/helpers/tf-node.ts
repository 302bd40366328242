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

export { seededArray } from './seeded';
