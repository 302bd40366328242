// The gradient hint of the chunked target log-probs (src/model/target-logprobs.ts `gradHint`):
// given the ∂L/∂lp the loss will give, the forward forms ∂h, ∂hA and ∂B from each chunk's logits
// and the backward forms no logits. Same lp and gradients as without a hint, on cpu (stock row
// steps) and wasm (ours); a hint the loss does not match still gives the right gradients (the
// difference's gradient is recomputed and added).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetLogprobs } from '../../src/model/target-logprobs';
import { registerWasmKernels } from '../../src/runtime/wasm-kernels';
import { expectNoLeaks, seededArray } from '../helpers/tf-node';
import { maxRelError } from '../reference/self-check';

const [N, C, V, R] = [13, 8, 40, 3];
const h = seededArray(N * C, 31, 2);
const w = seededArray(V * C, 32, 2);
const a = seededArray(N * R, 33, 2);
const b = seededArray(V * R, 34, 2);
const t = [3, -1, 0, 17, V - 1, 30, -1, 12, 25, 39, 8, 5, 6];
const weights = seededArray(N, 35, 1);

/**
 * lp, ∂L/∂(h, hA, B) for L = −Σ weights·lp, with `hint` as the gradient hint (none: null), and
 * how many products of the step had V columns (the logits: one per chunk each time they are formed).
 */
async function step(hint: 'exact' | 'off' | null) {
  return expectNoLeaks(async () => {
    let logitProducts = 0;
    const out = await tf.profile(() =>
      tf.tidy(() => {
        const [hT, aT, bT] = [
          tf.tensor2d(h, [N, C]),
          tf.tensor2d(a, [N, R]),
          tf.tensor2d(b, [V, R]),
        ];
        const wT = tf.tensor2d(w, [V, C]);
        const targets = tf.tensor1d(t, 'int32');
        const wts = tf.tensor1d(weights);
        // The loss's own ∂L/∂lp is −weights; 'off' hints half of it.
        const gradHint =
          hint === null
            ? undefined
            : (tf.mul(wts, tf.scalar(hint === 'exact' ? -1 : -0.5)) as tf.Tensor1D);
        const lpOf = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
          targetLogprobs(
            x as tf.Tensor2D,
            wT,
            targets,
            { hA: y as tf.Tensor2D, b: z as tf.Tensor2D },
            {
              trainWeight: false,
              chunkRows: 4,
              gradHint,
            },
          );
        const lp = lpOf(hT, aT, bT);
        const grads = tf.grads((x, y, z) => tf.neg(tf.sum(tf.mul(wts, lpOf(x, y, z)))))([
          hT,
          aT,
          bT,
        ]);
        return [lp, ...grads];
      }),
    );
    for (const k of out.kernels) {
      if (k.name === 'BatchMatMul' && k.outputShapes[0]?.at(-1) === V) logitProducts++;
    }
    const result = out.result as tf.Tensor[];
    const values = await Promise.all(result.map(async (x) => [...(await x.data())]));
    tf.dispose(result);
    return { values, logitProducts };
  });
}

describe.each(['cpu', 'wasm'])('on %s', (backend) => {
  beforeAll(async () => {
    registerWasmKernels();
    await tf.setBackend(backend);
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('a hint that matches the loss: same lp and gradients, logits formed once per chunk, not twice', async () => {
    const plain = await step(null);
    const hinted = await step('exact');
    const chunks = Math.ceil(N / 4);
    // A chunk's logits are two products of V columns (h·Wᵀ, then hA·Bᵀ). lpOf runs twice (the
    // value, then under tf.grads): two forwards; without the hint the backward forms them again.
    expect(plain.logitProducts).toBe(2 * 3 * chunks);
    expect(hinted.logitProducts).toBe(2 * 2 * chunks);
    hinted.values.forEach((x, i) => {
      expect(maxRelError(x, plain.values[i] ?? []), `output ${i}`).toBeLessThan(1e-5);
    });
  });

  it('a hint the loss does not match: still the right gradients (the difference is recomputed)', async () => {
    const plain = await step(null);
    const off = await step('off');
    expect(off.logitProducts).toBe(2 * 3 * Math.ceil(N / 4));
    off.values.forEach((x, i) => {
      expect(maxRelError(x, plain.values[i] ?? []), `output ${i}`).toBeLessThan(1e-5);
    });
  });
});
