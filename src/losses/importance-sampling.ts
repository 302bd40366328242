/**
 * `importance_sampling`: REINFORCE with an importance-sampling correction for off-policy samples.
 *
 *   L = −Σ_i ratio_i · A_i,   ratio_i = exp(lp_i − q_i)
 *
 * so ∂L/∂lp_i = −ratio_i · A_i. Ignored positions (m = 0) contribute nothing (policy-ratio.ts).
 * Source: Tinker docs, "Loss functions" (importance_sampling); shared/reference/loops-api-notes.md §6.2.
 */
import * as tf from '@tensorflow/tfjs';
import { LOSS_SCHEMAS } from '../core/loss-schema';
import type { LossSpec, LossTensors, MetricTensors } from './loss-spec';
import { requireInput } from './loss-spec';
import { activeMean, activePositions, policyRatio } from './policy-ratio';

const NAME = 'importance_sampling';

function compute(lp: tf.Tensor1D, inputs: LossTensors): tf.Scalar {
  const a = requireInput(inputs, 'advantages', NAME);
  return tf.tidy(() => {
    const ratio = policyRatio(lp, inputs, NAME); // [N]
    return tf.neg(tf.sum(tf.mul(inputs.mask, tf.mul(ratio, a)))); // []
  });
}

function metrics(lp: tf.Tensor1D, inputs: LossTensors): MetricTensors {
  return tf.tidy(() => {
    const ratio = policyRatio(lp, inputs, NAME); // [N]
    return {
      'loss:sum': compute(lp, inputs),
      'ratio:mean': activeMean(ratio, activePositions(inputs, NAME)),
    };
  });
}

export const importanceSampling: LossSpec = Object.freeze<LossSpec>({
  ...LOSS_SCHEMAS.importance_sampling,
  compute,
  metrics,
});
