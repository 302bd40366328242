// The summed loss's arithmetic on our WebGPU kernel (src/runtime/webgpu/kernels/weighted-sum.ts,
// ops/weighted-sum.ts): α·Σ w·x, Σ w and the gradient α·g·w against float64 and the stock TF.js
// ops on cpu; the cross-entropy loss (src/losses/cross-entropy.ts), its gradient and metrics with
// our kernels against the same loss with them off: one pipeline, no stock program.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy } from '../../../src/losses/cross-entropy';
import type { LossTensors } from '../../../src/losses/loss-spec';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { gpuSum, gpuWeightedSum } from '../../../src/runtime/webgpu/ops/weighted-sum';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';
import { expectClose, onCpu } from '../../helpers/webgpu-parity';

// 300 positions: more than the 256 invocations of the sum's one workgroup, not a multiple.
const N = 300;
const x = seededArray(N, 1, 6);
const w = Float32Array.from(seededArray(N, 2, 2), (v, i) => (i % 7 === 0 ? 0 : v));
const mask = Float32Array.from({ length: N }, (_, i) => (i % 5 === 0 ? 0 : 1));
const G = 2.5; // the upstream gradient

async function read(ts: tf.Tensor[]): Promise<Float32Array[]> {
  const out = await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(ts);
  return out;
}

/** −Σ w·x, Σ w and G·∂(−Σ w·x)/∂x, by `sum` (ours or stock). */
async function compute(
  sum: (w: tf.Tensor1D, x: tf.Tensor1D) => tf.Scalar,
  total: (w: tf.Tensor1D) => tf.Scalar,
) {
  const [tw, tx] = [tf.tensor1d(w), tf.tensor1d(x)];
  const s = sum(tw, tx);
  const t = total(tw);
  const g = tf.scalar(G);
  const dx = tf.grad((xx: tf.Tensor) => sum(tw, xx as tf.Tensor1D))(tx, g);
  tf.dispose([tw, tx, g]);
  return read([s, t, dx]);
}

const stockSum = (tw: tf.Tensor1D, tx: tf.Tensor1D) => tf.neg(tf.sum(tf.mul(tw, tx))) as tf.Scalar;

describe('weighted sum kernel (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  it('α·Σ w·x, Σ w and the gradient α·g·w match float64 and stock cpu, in one pipeline', async () => {
    const { result, work } = await countGpuWork(() =>
      expectNoLeaks(() =>
        compute(
          (tw, tx) => gpuWeightedSum(tw, tx, -1),
          (tw) => gpuSum(tw),
        ),
      ),
    );
    const [s, t, dx] = result;
    const stock = await onCpu(() => compute(stockSum, (tw) => tf.sum(tw) as tf.Scalar));
    let refS = 0;
    let refT = 0;
    for (let i = 0; i < N; i++) {
      refS -= w[i]! * x[i]!;
      refT += w[i]!;
    }
    expectClose(s!, [refS], 1e-5, 'loss vs float64');
    expectClose(t!, [refT], 1e-5, 'Σ w vs float64');
    expectClose(
      dx!,
      Array.from(w, (v) => -G * v),
      1e-6,
      'dx vs float64',
    );
    [s, t, dx].forEach((got, i) => expectClose(got!, stock[i]!, 1e-5, `output ${i} vs stock`));
    expect(work.ours).toEqual({ 'weighted-sum': 4 }); // the sum twice (once under tf.grad), Σ w, ∂x
    expect(work.stock).toEqual({});
    // One pipeline at most (none when an earlier test file in this worker compiled it).
    expect(Object.entries(work.pipelines.ours)).toEqual(
      'weighted-sum' in work.pipelines.ours ? [['weighted-sum', 1]] : [],
    );
  });

  it('an empty batch sums to 0 and has an empty gradient', async () => {
    const [s, dx] = await expectNoLeaks(async () => {
      const [tw, tx] = [tf.zeros([0]) as tf.Tensor1D, tf.zeros([0]) as tf.Tensor1D];
      const s = gpuWeightedSum(tw, tx, -1);
      const dx = tf.grad((xx: tf.Tensor) => gpuWeightedSum(tw, xx as tf.Tensor1D, -1))(tx);
      tf.dispose([tw, tx]);
      return read([s, dx]);
    });
    expect(Array.from(s!)).toEqual([0]);
    expect(dx!.length).toBe(0);
  });

  for (const weighted of [false, true]) {
    it(`cross_entropy${weighted ? ' with weights' : ''}: loss, gradient and metrics as with the stock ops`, async () => {
      const run = async () => {
        const inputs: LossTensors = {
          mask: tf.tensor1d(mask),
          ...(weighted && { weights: tf.tensor1d(w) }),
        };
        const lp = tf.tensor1d(x);
        const loss = crossEntropy.compute(lp, inputs, {});
        const dlp = tf.grad((l: tf.Tensor) => crossEntropy.compute(l as tf.Tensor1D, inputs, {}))(
          lp,
        );
        const metrics = crossEntropy.metrics(lp, inputs, {});
        const out = await read([loss, dlp, metrics['loss:sum']!, metrics['weight:sum']!]);
        tf.dispose([lp, inputs.mask, inputs.weights ?? []]);
        return out;
      };
      const ours = await countGpuWork(() => expectNoLeaks(run));
      const stock = await withGpuKernels(false, run);
      const cpu = await onCpu(run);
      ours.result.forEach((got, i) => {
        expectClose(got, stock[i]!, 1e-5, `output ${i} vs stock webgpu`);
        expectClose(got, cpu[i]!, 1e-5, `output ${i} vs cpu`);
      });
      // With weights, their product m·w is a stock multiply (run on the page when both are there).
      if (!weighted) expect(ours.work.stock).toEqual({});
      expect(ours.work.ours).toEqual({ 'weighted-sum': 5 });
    });
  }
});
