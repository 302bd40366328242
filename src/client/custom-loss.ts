/**
 * `forward_backward_custom` on the page, as Tinker does it: the user's loss is a function of the
 * per-datum log-prob tensors; its gradient g = ∂loss/∂lp is taken here with TF.js, and the engine
 * then backpropagates −Σ w·lp with w = −g, whose gradient w.r.t. the weights equals ∂loss/∂θ.
 * TF.js is imported lazily, so pages that never use custom losses do not load it.
 */
import type * as TF from '@tensorflow/tfjs';
import { ValidationError } from '../errors/loops-errors';

export interface CustomLossResult {
  /** A TF.js scalar tensor. */
  loss: unknown;
  metrics?: Record<string, number>;
}

/** `(data, logprobs) → { loss, metrics }`; `logprobs[i]` is a 1-D TF.js tensor for datum i. */
export type CustomLossFn = (data: unknown[], logprobs: unknown[]) => CustomLossResult;

export async function runCustomLoss(
  lossFn: CustomLossFn,
  data: unknown[],
  logprobs: readonly Float32Array[],
): Promise<{ loss: number; metrics: Record<string, number>; weights: Float32Array[] }> {
  const tf = await import('@tensorflow/tfjs');
  let metrics: Record<string, number> = {};
  const inputs = logprobs.map((lp) => tf.tensor1d(lp));
  try {
    const { value, grads } = tf.valueAndGrads((...lps: TF.Tensor[]) => {
      const out = lossFn(data, lps);
      if (!out || !(out.loss instanceof tf.Tensor) || out.loss.rank !== 0) {
        throw new ValidationError(
          'the custom loss_fn must return { loss: <scalar tf.Tensor>, metrics }.',
        );
      }
      metrics = out.metrics ?? {};
      return out.loss as TF.Scalar;
    })(inputs);
    const loss = (await value.data())[0] ?? Number.NaN;
    const weights = await Promise.all(
      grads.map(async (g) => Float32Array.from(await g.data(), (x) => -x)),
    );
    tf.dispose([value, ...grads]);
    return { loss, metrics, weights };
  } finally {
    tf.dispose(inputs);
  }
}
