/**
 * RoPE as one differentiable op on webgpu: one dispatch forward (kernels/rope.ts) and one
 * backward, the rotation by −θ (RoPE is orthogonal, so its transpose is its inverse). The
 * tables are constants of the op: no gradient flows to them.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeadLayout } from '../kernels/attention-wgsl';
import { ropeRotate } from '../kernels/rope';

/**
 * x ([B, h, T, D], or [B, T, h, D] in layout 'tokens') rotated to positions start … start + T − 1
 * of the tables; a new tensor.
 */
export function fusedRope(
  x: tf.Tensor4D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  start: number,
  layout: HeadLayout = 'heads',
): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor4D;
    return {
      value: ropeRotate(xi, cos, sin, start, 1, layout),
      gradFunc: (dy) => ropeRotate(dy as tf.Tensor4D, cos, sin, start, -1, layout),
    };
  });
  return op(x) as tf.Tensor4D;
}
