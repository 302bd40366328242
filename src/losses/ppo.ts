/**
 * `ppo`: the clipped surrogate objective of Proximal Policy Optimization.
 *
 *   L = −Σ_i min(ratio_i · A_i, clip(ratio_i, lo, hi) · A_i),   ratio_i = exp(lp_i − q_i)
 *
 * lo / hi are ABSOLUTE ratio bounds (`clip_low_threshold`, `clip_high_threshold`; default 0.8 / 1.2,
 * i.e. ε = 0.2), not ε itself. Where the min picks the clipped term with the ratio outside [lo, hi]
 * the position has zero gradient; elsewhere ∂L/∂lp_i = −ratio_i · A_i.
 * Sources: Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. (7); Tinker docs,
 * "Loss functions" (ppo); shared/reference/loops-api-notes.md §6.3.
 */
import * as tf from '@tensorflow/tfjs';
import { LOSS_SCHEMAS, clipThresholds } from '../core/loss-schema';
import type { LossConfig, LossSpec, LossTensors } from './loss-spec';
import { requireInput } from './loss-spec';
import { clippedRatioMetrics, policyRatio } from './policy-ratio';

const NAME = 'ppo';

function compute(lp: tf.Tensor1D, inputs: LossTensors, config: LossConfig): tf.Scalar {
  const a = requireInput(inputs, 'advantages', NAME);
  const { lo, hi } = clipThresholds(config);
  return tf.tidy(() => {
    const ratio = policyRatio(lp, inputs, NAME); // [N]
    const unclipped = tf.mul(ratio, a); // [N]
    const clipped = tf.mul(tf.clipByValue(ratio, lo, hi), a); // [N]
    return tf.neg(tf.sum(tf.mul(inputs.mask, tf.minimum(unclipped, clipped)))); // []
  });
}

export const ppo: LossSpec = Object.freeze<LossSpec>({
  ...LOSS_SCHEMAS.ppo,
  compute,
  metrics: clippedRatioMetrics(NAME, compute),
});
