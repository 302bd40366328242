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
import { gpuSum, gpuWeightedSum } from '../runtime/webgpu/ops/weighted-sum';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import type { LossConfig, LossSpec, LossTensors, MetricTensors } from './loss-spec';

/** m·w [N] (just m when no weights were given); returns a new tensor. */
function positionWeights(inputs: LossTensors): tf.Tensor1D {
  return inputs.weights ? tf.mul(inputs.mask, inputs.weights) : inputs.mask.clone();
}

/** On webgpu with our kernels: m·w without a copy when there are no weights (not owned!). */
function gpuPositionWeights(inputs: LossTensors): tf.Tensor1D {
  return inputs.weights ? tf.mul(inputs.mask, inputs.weights) : inputs.mask;
}

function compute(lp: tf.Tensor1D, inputs: LossTensors): tf.Scalar {
  if (gpuKernelsActive()) return tf.tidy(() => gpuWeightedSum(gpuPositionWeights(inputs), lp, -1));
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(positionWeights(inputs), lp)))); // []
}

function metrics(lp: tf.Tensor1D, inputs: LossTensors, _config: LossConfig): MetricTensors {
  if (gpuKernelsActive()) {
    // One pipeline for the loss, its gradient and both metrics (kernels/weighted-sum.ts).
    return tf.tidy(() => {
      const w = gpuPositionWeights(inputs);
      return { 'loss:sum': gpuWeightedSum(w, lp, -1), 'weight:sum': gpuSum(w) };
    });
  }
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
  // ∂L/∂lp_i = −m_i·w_i, known before the forward pass.
  lpGradient: (inputs: LossTensors) => tf.tidy(() => tf.neg(positionWeights(inputs))),
});
