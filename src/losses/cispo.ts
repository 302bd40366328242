/**
 * `cispo`: Clipped Importance Sampling Policy Optimization.
 *
 *   L = −Σ_i sg(clip(ratio_i, lo, hi)) · lp_i · A_i,   ratio_i = exp(lp_i − q_i)
 *
 * Unlike PPO it clips the importance weight, not the update: the weight is a constant (sg =
 * stop-gradient), so every token keeps a gradient ∂L/∂lp_i = −clip(ratio_i, lo, hi) · A_i.
 * Defaults lo = 0.0, hi = 4.0 (one-sided, the Tinker cookbook's current choice).
 * Sources: MiniMax 2025, "MiniMax-M1: Scaling Test-Time Compute Efficiently with Lightning
 * Attention" (CISPO objective); Tinker docs, "Loss functions" (cispo);
 * shared/reference/loops-api-notes.md §6.4.
 */
import * as tf from '@tensorflow/tfjs';
import { LOSS_SCHEMAS, clipThresholds } from '../core/loss-schema';
import type { LossConfig, LossSpec, LossTensors } from './loss-spec';
import { requireInput } from './loss-spec';
import { clippedRatioMetrics, policyRatio, stopGradient } from './policy-ratio';

const NAME = 'cispo';

function compute(lp: tf.Tensor1D, inputs: LossTensors, config: LossConfig): tf.Scalar {
  const a = requireInput(inputs, 'advantages', NAME);
  const { lo, hi } = clipThresholds(config);
  return tf.tidy(() => {
    const ratio = policyRatio(lp, inputs, NAME); // [N]
    const weight = stopGradient(tf.clipByValue(ratio, lo, hi)); // [N], constant
    return tf.neg(tf.sum(tf.mul(inputs.mask, tf.mul(tf.mul(weight, lp), a)))); // []
  });
}

export const cispo: LossSpec = Object.freeze<LossSpec>({
  ...LOSS_SCHEMAS.cispo,
  compute,
  metrics: clippedRatioMetrics(NAME, compute),
});
