// The unembedding's gradient hint (src/model/target-logprobs.ts `gradHint`) is a CPU-backend
// path: its backward reads a flag back synchronously, which webgpu cannot do (Dawn in Node throws,
// Chromium loses the device). On webgpu, with our kernels or the stock ops, a hint is ignored and
// the gradients are the plain ones.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { takesGradHint, targetLogprobs } from '../../../src/model/target-logprobs';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { seededArray } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

beforeAll(useWebGpuBackend);
afterAll(useCpuAgain);

const [N, C, V] = [6, 8, 12];
const t = [3, -1, 0, 11, 5, 7];

async function grads(hint: boolean): Promise<number[][]> {
  const [h, w] = [
    tf.tensor2d(seededArray(N * C, 41, 2), [N, C]),
    tf.tensor2d(seededArray(V * C, 42, 2), [V, C]),
  ];
  const targets = tf.tensor1d(t, 'int32');
  const gradHint = hint ? (tf.fill([N], -1) as tf.Tensor1D) : undefined;
  const g = tf.grad((x: tf.Tensor) =>
    tf.neg(
      tf.sum(
        targetLogprobs(x as tf.Tensor2D, w, targets, null, {
          trainWeight: false,
          chunkRows: 4,
          gradHint,
        }),
      ),
    ),
  )(h);
  const out = [Array.from(await g.data())];
  tf.dispose([h, w, targets, g, ...(gradHint ? [gradHint] : [])]);
  return out;
}

it('is not taken on webgpu, kernels on or off, and the gradients are the plain ones', async () => {
  expect(takesGradHint()).toBe(false);
  for (const on of [true, false]) {
    const [plain, hinted] = await withGpuKernels(on, async () => [
      await grads(false),
      await grads(true),
    ]);
    expect(hinted, `kernels ${on ? 'on' : 'off'}`).toEqual(plain);
  }
});
