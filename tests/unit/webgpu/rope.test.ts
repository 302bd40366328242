// The fused RoPE op on webgpu against the stock rotation on cpu (forward and gradient, which is
// the rotation by −θ), its dispatch count, and the device tables: uploaded once, then reused by
// every step whose positions they cover.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRope, disposeRopeTables, ropeTables } from '../../../src/model/rope';
import { webgpuBackend } from '../../../src/runtime/webgpu/backend-internals';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { relativeError } from '../../helpers/model-fixtures';
import { seededArray } from '../../helpers/seeded';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const [B, h, T, D] = [2, 3, 5, 8];
const theta = 10000;
const xs = seededArray(B * h * T * D, 5, 2);
const ws = seededArray(B * h * T * D, 6, 2);

/** RoPE of x at positions offset…, and the gradient of Σ rope(x) ⊙ w, on the current backend. */
async function rotate(offset: number) {
  const x = tf.tensor4d(xs, [B, h, T, D]);
  const w = tf.tensor4d(ws, [B, h, T, D]);
  const y = tf.tidy(() => applyRope(x, ropeTables(T, D, theta, offset)));
  const g = tf.grad((a) =>
    tf.sum(tf.mul(applyRope(a as tf.Tensor4D, ropeTables(T, D, theta, offset)), w)),
  )(x);
  const out = { y: await y.data(), g: await g.data() };
  tf.dispose([x, w, y, g]);
  return out;
}

describe('fused RoPE (webgpu)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(async () => {
    disposeRopeTables();
    await useCpuAgain();
  });

  it.each([0, 3, 61])(
    'matches the stock rotation and its gradient at offset %i',
    async (offset) => {
      await tf.setBackend('cpu');
      const stock = await rotate(offset);
      await tf.setBackend('webgpu');
      const ours = await rotate(offset);
      expect(relativeError(ours.y, stock.y)).toBeLessThan(1e-6);
      expect(relativeError(ours.g, stock.g)).toBeLessThan(1e-6);
    },
  );

  it("rotates [B, T, h, D] (layout 'tokens') as the stock rotation of [B, h, T, D]", async () => {
    const offset = 4;
    await tf.setBackend('cpu');
    const stock = await rotate(offset).finally(() => tf.setBackend('webgpu'));
    const x = tf.tensor4d(xs, [B, h, T, D]);
    const w = tf.tensor4d(ws, [B, h, T, D]);
    const tokens = (a: tf.Tensor4D) => tf.transpose(a, [0, 2, 1, 3]) as tf.Tensor4D;
    const heads = tokens; // the same swap back
    const rope = (a: tf.Tensor4D) =>
      heads(applyRope(tokens(a), ropeTables(T, D, theta, offset), 'tokens'));
    const y = tf.tidy(() => rope(x));
    const g = tf.grad((a) => tf.sum(tf.mul(rope(a as tf.Tensor4D), w)))(x);
    expect(relativeError(await y.data(), stock.y)).toBeLessThan(1e-6);
    expect(relativeError(await g.data(), stock.g)).toBeLessThan(1e-6);
    tf.dispose([x, w, y, g]);
  });

  it('uploads the tables once; steps reuse them with one dispatch each way', async () => {
    disposeRopeTables();
    const x = tf.tensor4d(xs, [B, h, T, D]);
    const dy = tf.tensor4d(ws, [B, h, T, D]);
    for (const t of [x, dy]) webgpuBackend()!.uploadToGPU(t.dataId);
    const step = (offset: number) =>
      countGpuWork(async () => {
        const g = tf.grad((a) => applyRope(a as tf.Tensor4D, ropeTables(T, D, theta, offset)))(
          x,
          dy,
        );
        await g.data();
        g.dispose();
      });
    const first = await step(0);
    expect(first.work.uploads).toBe(2); // cos and sin, once
    for (const offset of [0, 7, 40]) {
      const again = await step(offset);
      expect(again.work.uploads).toBe(0);
      expect(again.work.ours).toEqual({ rope: 2 });
      expect(again.work.dispatches).toBe(2);
    }
    tf.dispose([x, dy]);
  });
});
