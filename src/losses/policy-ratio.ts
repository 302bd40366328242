/**
 * Pieces shared by the policy-gradient losses (importance_sampling, ppo, cispo, dro).
 *
 *   ratio_i = exp(m_i · (lp_i − q_i))
 *
 * q = the sampler's log-probs (`logprobs`), m = the target mask. Masking the log-ratio (rather than
 * the ratio) makes an ignored position's ratio exactly 1, so a padded q there can neither overflow
 * exp nor turn 0·∞ into NaN. Metrics average over the positions that carry a policy-gradient
 * signal: m_i = 1 and A_i ≠ 0 (Tinker pads prompt positions with A = 0).
 */
import * as tf from '@tensorflow/tfjs';
import { clipThresholds } from '../core/loss-schema';
import type { LossConfig, LossName, LossTensors, MetricTensors } from './loss-spec';
import { requireInput } from './loss-spec';

/** ratio [N] = exp(m·(lp − q)); returns a new tensor, differentiable w.r.t. lp. */
export function policyRatio(lp: tf.Tensor1D, inputs: LossTensors, loss: LossName): tf.Tensor1D {
  const q = requireInput(inputs, 'logprobs', loss);
  return tf.tidy(() => tf.exp(tf.mul(inputs.mask, tf.sub(lp, q)))); // [N]
}

/** 1 where the position has a target and a non-zero advantage, else 0 [N]; a new tensor. */
export function activePositions(inputs: LossTensors, loss: LossName): tf.Tensor1D {
  const a = requireInput(inputs, 'advantages', loss);
  return tf.tidy(() => tf.mul(inputs.mask, tf.cast(tf.notEqual(a, 0), 'float32'))); // [N]
}

/** Σ active·x / max(Σ active, 1): a mean over active positions (0 when none); a new scalar. */
export function activeMean(x: tf.Tensor1D, active: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(active, x)), tf.maximum(tf.sum(active), 1))); // []
}

/** 1 where the ratio lies outside [lo, hi], else 0 [N]; a new tensor. */
export function outsideClipRange(ratio: tf.Tensor1D, lo: number, hi: number): tf.Tensor1D {
  return tf.tidy(
    () => tf.cast(tf.logicalOr(tf.less(ratio, lo), tf.greater(ratio, hi)), 'float32'), // [N]
  );
}

/**
 * The identity whose gradient is zero: sg(x) in the formulas. TF.js has no public stop-gradient
 * op, so it is a custom gradient. Returns a new tensor.
 */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

/**
 * The metrics of the clipped-ratio losses (ppo, cispo): `loss:sum`, `ratio:mean` and
 * `clip_fraction:mean`, the share of active positions whose ratio lies outside [lo, hi]
 * (PPO's "clipfrac").
 */
export function clippedRatioMetrics(
  loss: LossName,
  compute: (lp: tf.Tensor1D, inputs: LossTensors, config: LossConfig) => tf.Scalar,
) {
  return (lp: tf.Tensor1D, inputs: LossTensors, config: LossConfig): MetricTensors => {
    const { lo, hi } = clipThresholds(config);
    return tf.tidy(() => {
      const ratio = policyRatio(lp, inputs, loss); // [N]
      const active = activePositions(inputs, loss); // [N]
      return {
        'loss:sum': compute(lp, inputs, config),
        'ratio:mean': activeMean(ratio, active),
        'clip_fraction:mean': activeMean(outsideClipRange(ratio, lo, hi), active),
      };
    });
  };
}
