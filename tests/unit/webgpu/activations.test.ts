// SwiGLU and GELU-tanh on our WebGPU kernels (src/runtime/webgpu/kernels/activations.ts) against
// float64 (tests/reference/transformer-f64-ops.ts; gradients by finite differences) and the stock
// TF.js ops on cpu (src/model/layers.ts with our kernels off); one dispatch each way.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { geluTanh, swiglu } from '../../../src/model/layers';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { precompile } from '../../../src/runtime/webgpu/gpu-runtime';
import { ACTIVATION_KERNELS } from '../../../src/runtime/webgpu/kernels/activations';
import * as f64 from '../../reference/transformer-f64-ops';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';
import { expectClose, onCpu } from '../../helpers/webgpu-parity';

// 24 values take the vec4 kernels, 15 the scalar ones. Inputs span ±6 (σ and tanh saturate).
const SHAPES = [
  [2, 3, 4],
  [3, 5],
];

/** d/dx of a scalar function by central differences (float64). */
function derivative(f: (x: number) => number, x: number): number {
  const h = 1e-6;
  return (f(x + h) - f(x - h)) / (2 * h);
}

async function read(ts: tf.Tensor[]): Promise<Float32Array[]> {
  const out = await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(ts);
  return out;
}

describe('activation kernels (Dawn)', () => {
  beforeAll(async () => {
    await useWebGpuBackend();
    await precompile(ACTIVATION_KERNELS);
  }, 120_000);
  afterAll(useCpuAgain);

  for (const shape of SHAPES) {
    const n = shape.reduce((a, b) => a * b, 1);
    const [a, up, dy] = [seededArray(n, 1, 12), seededArray(n, 2, 4), seededArray(n, 3, 2)];

    it(`swiglu [${shape}] matches float64 and stock cpu`, async () => {
      const run = async () => {
        const [ta, tu, tdy] = [tf.tensor(a, shape), tf.tensor(up, shape), tf.tensor(dy, shape)];
        const y = swiglu(ta, tu);
        const [da, du] = tf.grads((g: tf.Tensor, u: tf.Tensor) => swiglu(g, u))([ta, tu], tdy);
        tf.dispose([ta, tu, tdy]);
        return read([y, da!, du!]);
      };
      const [y, da, du] = await expectNoLeaks(run);
      const stock = await onCpu(run);
      const refY = Array.from(a, (v, i) => f64.silu(v) * up[i]!);
      const refDa = Array.from(a, (v, i) => dy[i]! * up[i]! * derivative(f64.silu, v));
      const refDu = Array.from(a, (v, i) => dy[i]! * f64.silu(v));
      expectClose(y!, refY, 2e-6, 'y vs float64');
      expectClose(da!, refDa, 1e-5, 'dgate vs float64');
      expectClose(du!, refDu, 2e-6, 'dup vs float64');
      [y, da, du].forEach((got, i) => expectClose(got!, stock[i]!, 1e-5, `output ${i} vs stock`));
    });

    it(`geluTanh [${shape}] matches float64 and stock cpu`, async () => {
      const run = async () => {
        const [tx, tdy] = [tf.tensor(a, shape), tf.tensor(dy, shape)];
        const y = geluTanh(tx);
        const dx = tf.grad((x: tf.Tensor) => geluTanh(x))(tx, tdy);
        tf.dispose([tx, tdy]);
        return read([y, dx]);
      };
      const [y, dx] = await expectNoLeaks(run);
      const stock = await onCpu(run);
      expectClose(y!, Array.from(a, f64.geluTanh), 2e-6, 'y vs float64');
      const refDx = Array.from(a, (v, i) => dy[i]! * derivative(f64.geluTanh, v));
      expectClose(dx!, refDx, 1e-5, 'dx vs float64');
      expectClose(y!, stock[0]!, 1e-5, 'y vs stock');
      expectClose(dx!, stock[1]!, 1e-5, 'dx vs stock');
    });
  }

  it('costs one dispatch forward and one backward each', async () => {
    const shape = SHAPES[0]!;
    const [a, u, dy] = [1, 2, 3].map((s) => tf.tensor(seededArray(24, s), shape));
    const sw = await countGpuWork(() =>
      tf.grads((g: tf.Tensor, x: tf.Tensor) => swiglu(g, x))([a!, u!], dy),
    );
    expect(sw.work.ours).toEqual({ 'swiglu-forward-vec4': 1, 'swiglu-backward-vec4': 1 });
    expect(sw.work.dispatches).toBe(2);
    const ge = await countGpuWork(() => tf.grad((x: tf.Tensor) => geluTanh(x))(a!, dy));
    expect(ge.work.ours).toEqual({ 'gelu-tanh-forward-vec4': 1, 'gelu-tanh-backward-vec4': 1 });
    expect(ge.work.dispatches).toBe(2);
    tf.dispose([a!, u!, dy!, ...sw.result, ge.result]);
  });
});
