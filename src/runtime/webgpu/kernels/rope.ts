/**
 * Rotary position embedding in one dispatch (Su et al. 2021, RoFormer §3.4; Hugging Face
 * rotate-half pairing: dimension i < D/2 pairs with i + D/2). For x [B, h, T, D] or [B, T, h, D]
 * (a projection's output as it is) and cos/sin tables [L, D] whose row p holds position p:
 *   y_i      = x_i cos_pi − σ x_{i+D/2} sin_pi
 *   y_{i+D/2} = x_{i+D/2} cos_pi + σ x_i sin_pi,     p = start + t,
 * σ = +1 for the rotation and −1 for its transpose, which is the backward (rotation by −θ). One
 * invocation per pair; the tables stay on the device and `start` is a uniform, so a decode step
 * uploads nothing.
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, type GpuKernel } from '../gpu-runtime';
import { dimsOf, type HeadLayout } from './attention-wgsl';

const WG = 64;
/** Workgroups per grid row: a large grid folds into y (65,535 per dimension at most). */
const ROW = 4096;

export const ROPE_KERNEL: GpuKernel = {
  name: 'rope',
  uniforms: ['u32', 'u32', 'u32', 'u32', 'f32', 'u32'], // pairs, T, half, start, sign, inner
  code: /* wgsl */ `
struct U { pairs: u32, T: u32, half: u32, start: u32, sign: f32, inner: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> cosT: array<f32>;
@group(0) @binding(2) var<storage, read> sinT: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let idx = (wg.y * ${ROW}u + wg.x) * ${WG}u + li;
  if (idx >= u.pairs) { return; }
  let i = idx % u.half;
  let row = idx / u.half; // rows of D: (b·T + t)·inner + head, or (b·h + head)·T + t with inner 1
  let t = (row / u.inner) % u.T;
  let D = 2u * u.half;
  let at = (u.start + t) * D + i;
  let c = cosT[at];
  let s = sinT[at] * u.sign;
  let lo = row * D + i;
  let a = x[lo];
  let b = x[lo + u.half];
  y[lo] = a * c - b * s;
  y[lo + u.half] = b * c + a * s;
}`,
};

/**
 * Rotates x ([B, h, T, D] in layout 'heads', [B, T, h, D] in layout 'tokens') by the positions
 * start … start + T − 1 of `cos`/`sin` [L, D] (sign +1), or by their negatives (sign −1: the
 * gradient). Returns a new tensor of x's shape the caller owns.
 */
export function ropeRotate(
  x: tf.Tensor4D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  start: number,
  sign: 1 | -1,
  layout: HeadLayout = 'heads',
): tf.Tensor4D {
  const [, h, T, D] = dimsOf(x.shape, layout);
  if (D % 2 !== 0 || cos.shape[1] !== D || start + T > cos.shape[0]) {
    throw new RangeError(
      `rope: x ${JSON.stringify(x.shape)} at positions ${start}…${start + T - 1} does not fit ` +
        `tables ${JSON.stringify(cos.shape)}`,
    );
  }
  const y = emptyTensor<tf.Tensor4D>(x.shape);
  const pairs = x.size / 2;
  const groups = Math.ceil(pairs / WG);
  dispatch(
    ROPE_KERNEL,
    [x, cos, sin, y],
    [Math.min(groups, ROW), Math.ceil(groups / ROW)],
    [pairs, T, D / 2, start, sign, layout === 'heads' ? 1 : h],
  );
  return y;
}
