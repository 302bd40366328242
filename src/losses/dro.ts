/**
 * `dro`: a policy-gradient term with a quadratic penalty on the log-ratio to the sampler.
 *
 *   L = −Σ_i (lp_i · A_i − ½ · β · (lp_i − q_i)²)
 *
 * so ∂L/∂lp_i = −A_i + β · (lp_i − q_i). The advantages are expected to be a "soft" estimate
 * computed client-side. β (`beta`) defaults to 0.05, the value the Tinker docs use in their
 * example; neither Tinker nor Loops documents a default, so pass it explicitly to be sure.
 * As written, the penalty applies at every position with a target, including prompt positions
 * padded with q = 0 and A = 0; mark those targets −100 to leave them out.
 * Sources: Tinker docs, "Loss functions" (dro); shared/reference/loops-api-notes.md §6.5.
 */
import * as tf from '@tensorflow/tfjs';
import { LOSS_SCHEMAS } from '../core/loss-schema';
import type { LossConfig, LossSpec, LossTensors, MetricTensors } from './loss-spec';
import { requireInput } from './loss-spec';
import { activeMean, activePositions } from './policy-ratio';

const NAME = 'dro';

/** m·(lp − q) [N]; a new tensor. */
function logRatio(lp: tf.Tensor1D, inputs: LossTensors): tf.Tensor1D {
  const q = requireInput(inputs, 'logprobs', NAME);
  return tf.tidy(() => tf.mul(inputs.mask, tf.sub(lp, q))); // [N]
}

function compute(lp: tf.Tensor1D, inputs: LossTensors, config: LossConfig): tf.Scalar {
  const a = requireInput(inputs, 'advantages', NAME);
  const beta = config.beta ?? NaN;
  return tf.tidy(() => {
    const d = logRatio(lp, inputs); // [N]
    const gain = tf.mul(inputs.mask, tf.mul(lp, a)); // [N]
    const penalty = tf.mul(0.5 * beta, tf.square(d)); // [N]
    return tf.neg(tf.sum(tf.sub(gain, penalty))); // []
  });
}

function metrics(lp: tf.Tensor1D, inputs: LossTensors, config: LossConfig): MetricTensors {
  return tf.tidy(() => {
    const d = logRatio(lp, inputs); // [N]
    const active = activePositions(inputs, NAME); // [N]
    return {
      'loss:sum': compute(lp, inputs, config),
      'ratio:mean': activeMean(tf.exp(d), active),
      // Mean of ½(lp − q)²: the quantity β penalises.
      'half_sq_log_ratio:mean': activeMean(tf.mul(0.5, tf.square(d)), active),
    };
  });
}

export const dro: LossSpec = Object.freeze<LossSpec>({
  ...LOSS_SCHEMAS.dro,
  compute,
  metrics,
});
