/**
 * The arithmetic of the summed token losses (src/losses/cross-entropy.ts) and of their gradient:
 *
 *   sum:   out[0] = α·Σ_i w_i·x_i      (Σ_i w_i without x)   one workgroup
 *   scale: out[i] = α·g·w_i            (g = x[0], a scalar)    one invocation per element
 *
 * One shader, the mode a uniform tested in uniform control flow, so the loss's forward, its
 * metrics and its backward take one pipeline (issue 12: every pipeline is a compile before the
 * first step; the stock ops took three, a multiply, a sum and a negation, keyed by rank).
 * The sum is a single workgroup of 256: each invocation adds a strided stretch, then a tree over
 * the 256 partials; N is the batch's token count (thousands), a microsecond's work on a GPU.
 */
import * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, groupsFor, type GpuKernel } from '../gpu-runtime';
import { foldedGrid } from './norms';

const WG = 256;
const SUM = 0;
const SCALE = 1;

export const WEIGHTED_SUM: GpuKernel = {
  name: 'weighted-sum',
  uniforms: ['u32', 'u32', 'f32', 'u32', 'u32'],
  code: /* wgsl */ `
    struct U { n: u32, mode: u32, alpha: f32, withX: u32, gx: u32 }
    @group(0) @binding(0) var<storage, read> w: array<f32>;
    @group(0) @binding(1) var<storage, read> x: array<f32>;
    @group(0) @binding(2) var<storage, read_write> out: array<f32>;
    @group(0) @binding(3) var<uniform> u: U;
    var<workgroup> part: array<f32, ${WG}>;
    @compute @workgroup_size(${WG})
    fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
      if (u.mode == ${SCALE}u) {
        let i = (wid.y * u.gx + wid.x) * ${WG}u + li;
        if (i < u.n) { out[i] = u.alpha * x[0] * w[i]; }
        return;
      }
      var s = 0.0;
      for (var i = li; i < u.n; i += ${WG}u) {
        var v = w[i];
        if (u.withX == 1u) { v *= x[i]; }
        s += v;
      }
      part[li] = s;
      workgroupBarrier();
      for (var k = ${WG / 2}u; k > 0u; k = k >> 1u) {
        if (li < k) { part[li] += part[li + k]; }
        workgroupBarrier();
      }
      if (li == 0u) { out[0] = u.alpha * part[0]; }
    }`,
};

function checkVector(what: string, t: tf.Tensor, n: number): void {
  if (t.dtype !== 'float32' || t.size !== n) {
    throw new Error(`weightedSum: ${what} is ${t.dtype} [${t.shape}], expected float32 of ${n}.`);
  }
}

/** α·Σ_i w_i·x_i (α·Σ_i w_i when x is null) over float32 vectors of one length: a new scalar. */
export function weightedSum(w: tf.Tensor, x: tf.Tensor | null, alpha: number): tf.Scalar {
  checkVector('w', w, w.size);
  if (x) checkVector('x', x, w.size);
  if (w.size === 0) return tf.scalar(0); // nothing to bind
  const out = emptyTensor<tf.Scalar>([]);
  dispatch(WEIGHTED_SUM, [w, x ?? w, out], 1, [w.size, SUM, alpha, x ? 1 : 0, 1]);
  return out;
}

/** α·g·w for a float32 scalar g: a new tensor of w's shape. */
export function scaledWeights(w: tf.Tensor, g: tf.Tensor, alpha: number): tf.Tensor {
  checkVector('g', g, 1);
  if (w.size === 0) return tf.zeros(w.shape);
  checkVector('w', w, w.size);
  const out = emptyTensor<tf.Tensor>([...w.shape]);
  const [gx, gy] = foldedGrid(groupsFor(w.size, WG));
  dispatch(WEIGHTED_SUM, [w, g, out], [gx, gy], [w.size, SCALE, alpha, 1, gx]);
  return out;
}
