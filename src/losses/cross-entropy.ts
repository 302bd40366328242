/**
 * `cross_entropy`: supervised fine-tuning.
 *
 *   L = −Σ_i m_i · w_i · lp_i
 *
 * m_i = 0 where target_tokens[i] = −100 (Loops' ignore id), else 1; w_i = weights[i], default 1
 * (Tinker's 0 = prompt / 1 = completion convention, or any float). Summed, not averaged.
 * Source: Tinker docs, "Loss functions" (cross_entropy); Loops docs (−100 = ignore);
 * shared/reference/loops-api-notes.md §6.1.
 */
import * as tf from '@tensorflow/tfjs';
import { LOSS_SCHEMAS } from '../core/loss-schema';
import type { LossConfig, LossSpec, LossTensors, MetricTensors } from './loss-spec';

/** m·w [N] (just m when no weights were given); returns a new tensor. */
function positionWeights(inputs: LossTensors): tf.Tensor1D {
  return inputs.weights ? tf.mul(inputs.mask, inputs.weights) : inputs.mask.clone();
}

function compute(lp: tf.Tensor1D, inputs: LossTensors): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(positionWeights(inputs), lp)))); // []
}

function metrics(lp: tf.Tensor1D, inputs: LossTensors, _config: LossConfig): MetricTensors {
  return tf.tidy(() => {
    const w = positionWeights(inputs); // [N]
    return {
      'loss:sum': tf.neg(tf.sum(tf.mul(w, lp))),
      // Σ m·w: the number of trained tokens when weights are 0/1.
      'weight:sum': tf.sum(w),
    };
  });
}

export const crossEntropy: LossSpec = Object.freeze<LossSpec>({
  ...LOSS_SCHEMAS.cross_entropy,
  compute,
  metrics,
});
