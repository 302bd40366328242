/**
 * α·Σ_i w_i·x_i as an op differentiable w.r.t. x on our WebGPU kernel (kernels/weighted-sum.ts):
 * one dispatch forward, one backward (∂/∂x = α·g·w). w is a constant (mask × weights in the
 * losses): it gets no gradient. src/losses/cross-entropy.ts calls it when `gpuKernelsActive()`
 * and its stock ops otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { scaledWeights, weightedSum } from '../kernels/weighted-sum';

/** α·Σ w·x, differentiable w.r.t. x: a new scalar. */
export function gpuWeightedSum(w: tf.Tensor1D, x: tf.Tensor1D, alpha: number): tf.Scalar {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, save] = args as [tf.Tensor1D, tf.GradSaveFunc];
    save([w]); // kept until the backward runs, even if the caller's scope frees w
    return {
      value: weightedSum(w, xx, alpha),
      gradFunc: (dy: tf.Tensor, [sw]: tf.Tensor[]) => scaledWeights(sw as tf.Tensor, dy, alpha),
    };
  });
  return op(x) as tf.Scalar;
}

/** α·Σ w (no gradient): a new scalar. */
export function gpuSum(w: tf.Tensor1D, alpha = 1): tf.Scalar {
  return weightedSum(w, null, alpha);
}
