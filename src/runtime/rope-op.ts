/**
 * RoPE as one differentiable op over a backend's own rotation (webgpu: runtime/webgpu/ops/rope.ts;
 * wasm: runtime/wasm-kernels/rope.ts): forward the rotation by θ, backward by −θ (RoPE is
 * orthogonal, so its transpose is its inverse). The tables are constants of the op: no gradient
 * flows to them, and they must outlive the backward pass.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeadLayout } from './webgpu/kernels/attention-wgsl';

/** x rotated by θ (sign 1) or −θ (sign −1) at rows start … of the tables; a new tensor. */
export type Rotate = (
  x: tf.Tensor4D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  start: number,
  sign: 1 | -1,
  layout: HeadLayout,
) => tf.Tensor4D;

export function ropeOp(
  rotate: Rotate,
  x: tf.Tensor4D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  start: number,
  layout: HeadLayout,
): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor4D;
    return {
      value: rotate(xi, cos, sin, start, 1, layout),
      gradFunc: (dy) => rotate(dy as tf.Tensor4D, cos, sin, start, -1, layout),
    };
  });
  return op(x) as tf.Tensor4D;
}
