// What the webgpu kernel tests use to hold our kernels against the stock TF.js ops on cpu: a run
// on the cpu backend from inside a webgpu test, and an elementwise closeness check.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/** Runs `fn` on the cpu backend (the stock ops), then switches back to webgpu. */
export async function onCpu<T>(fn: () => Promise<T>): Promise<T> {
  await tf.setBackend('cpu');
  try {
    return await fn();
  } finally {
    await tf.setBackend('webgpu');
  }
}

/** Expects equal lengths and every |got − want| / (1 + |want|) below `tol`. */
export function expectClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  what: string,
) {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  }
  expect(worst, `${what}: worst error`).toBeLessThan(tol);
}

/** Largest |got − want| over max |want|. */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs((got[i] as number) - (want[i] as number)));
    scale = Math.max(scale, Math.abs(want[i] as number));
  }
  return diff / scale;
}
