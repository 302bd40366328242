/**
 * RoPE as one differentiable op on webgpu: one dispatch forward (kernels/rope.ts) and one
 * backward, the rotation by −θ (RoPE is orthogonal, so its transpose is its inverse). The
 * tables are constants of the op: no gradient flows to them.
 */
import type * as tf from '@tensorflow/tfjs';
import { ropeOp } from '../../rope-op';
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
  return ropeOp(ropeRotate, x, cos, sin, start, layout);
}
