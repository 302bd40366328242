// The fused RoPE op on wasm (src/runtime/wasm-kernels/rope.ts) against a float64 reference and
// the stock rotation on cpu, forward and gradient (the rotation by −θ), in both layouts and at
// offsets into the cached tables; and that it runs none of the stock rotation's kernels.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRope, disposeRopeTables, ropeTables } from '../../src/model/rope';
import { registerWasmKernels } from '../../src/runtime/wasm-kernels';
import { ropeValues } from '../../src/runtime/wasm-kernels/rope';
import { relativeError } from '../helpers/model-fixtures';
import { seededArray } from '../helpers/seeded';

const [B, h, T, D] = [2, 3, 5, 8];
const theta = 10000;
const xs = seededArray(B * h * T * D, 5, 2);
const ws = seededArray(B * h * T * D, 6, 2);

/** RoPE of x [B, h, T, D] at positions offset … offset + T − 1, in float64 from the definition. */
function referenceRope(x: Float32Array, offset: number): Float64Array {
  const out = new Float64Array(x.length);
  const half = D / 2;
  for (let r = 0; r < B * h * T; r++) {
    const p = offset + (r % T);
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, (-2 * i) / D);
      const [a, b] = [x[r * D + i] as number, x[r * D + i + half] as number];
      out[r * D + i] = a * Math.cos(angle) - b * Math.sin(angle);
      out[r * D + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }
  return out;
}

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

describe('fused RoPE (wasm)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    registerWasmKernels();
  });
  afterAll(async () => {
    await tf.setBackend('wasm');
    disposeRopeTables();
    await tf.setBackend('cpu');
  });

  it('ropeValues rotates and rotates back: sign −1 undoes sign 1', () => {
    const cos = new Float32Array(4 * 4);
    const sin = new Float32Array(4 * 4);
    for (let p = 0; p < 4; p++) {
      for (let i = 0; i < 2; i++) {
        const angle = p * 0.3 * (i + 1);
        cos[p * 4 + i] = cos[p * 4 + i + 2] = Math.cos(angle);
        sin[p * 4 + i] = sin[p * 4 + i + 2] = Math.sin(angle);
      }
    }
    const x = Float32Array.from([1, 2, 3, 4, -1, 0.5, 2, -3]);
    const y = new Float32Array(8);
    const back = new Float32Array(8);
    ropeValues(x, y, 4, (r) => r, cos, sin, 1, 1);
    ropeValues(y, back, 4, (r) => r, cos, sin, 1, -1);
    expect(relativeError(back, x)).toBeLessThan(1e-6);
    expect(relativeError(y, x)).toBeGreaterThan(0.1);
  });

  it.each([0, 3, 61])(
    'matches float64 and the stock rotation and gradient on cpu at offset %i',
    async (offset) => {
      await tf.setBackend('cpu');
      const stock = await rotate(offset);
      await tf.setBackend('wasm');
      const ours = await rotate(offset);
      expect(relativeError(ours.y, referenceRope(xs, offset))).toBeLessThan(1e-6);
      expect(relativeError(ours.y, stock.y)).toBeLessThan(1e-6);
      expect(relativeError(ours.g, stock.g)).toBeLessThan(1e-6);
    },
  );

  it("rotates [B, T, h, D] (layout 'tokens') as the stock rotation of [B, h, T, D]", async () => {
    const offset = 4;
    await tf.setBackend('cpu');
    const stock = await rotate(offset);
    await tf.setBackend('wasm');
    const x = tf.tensor4d(xs, [B, h, T, D]);
    const w = tf.tensor4d(ws, [B, h, T, D]);
    const swap = (a: tf.Tensor4D) => tf.transpose(a, [0, 2, 1, 3]) as tf.Tensor4D;
    const rope = (a: tf.Tensor4D) =>
      swap(applyRope(swap(a), ropeTables(T, D, theta, offset), 'tokens'));
    const y = tf.tidy(() => rope(x));
    const g = tf.grad((a) => tf.sum(tf.mul(rope(a as tf.Tensor4D), w)))(x);
    expect(relativeError(await y.data(), stock.y)).toBeLessThan(1e-6);
    expect(relativeError(await g.data(), stock.g)).toBeLessThan(1e-6);
    tf.dispose([x, w, y, g]);
  });

  it('runs one kernel-free pass each way: no SplitV, Concat, Neg or Slice; tables cached', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(xs, [B, h, T, D]);
    const dy = tf.tensor4d(ws, [B, h, T, D]);
    const tables = ropeTables(T, D, theta, 2);
    expect(ropeTables(T, D, theta, 0).cos).toBe(tables.cos); // one table per (D, θ)
    const info = await tf.profile(() =>
      tf.grad((a) => applyRope(a as tf.Tensor4D, ropeTables(T, D, theta, 2)))(x, dy),
    );
    const names = info.kernels.map((k) => k.name);
    for (const stockKernel of ['SplitV', 'Concat', 'Neg', 'Slice', 'Multiply', 'Add']) {
      expect(names, names.join(',')).not.toContain(stockKernel);
    }
    tf.dispose([x, dy]);
  });

  it('says what is wrong when the tables do not cover the positions', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(xs, [B, h, T, D]);
    const tables = ropeTables(T, D, theta, 0);
    const short = { ...tables, start: tables.cos.shape[0] - 2 };
    expect(() => applyRope(x, short)).toThrow(/covering them/);
    x.dispose();
  });
});
