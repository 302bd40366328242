/**
 * The two row-wise steps of the chunked target log-probs (src/model/target-logprobs.ts) over a
 * chunk's logits l [n, V_p] (one part of the vocabulary), so that a chunk holds one [n, V_p]
 * buffer instead of the five or six the stock ops make (sub, exp, one-hot, …):
 *
 *   row logsumexp:   lse_r = m_r + log Σ_j exp(l_rj − m_r),  m_r = max_j l_rj
 *   logits gradient: l_rj ← g_r·([j = t_r − s] − exp(l_rj − lse_r))   (in place)
 *
 * The second is ∂L/∂logits of lp_r = l_r[t_r] − lse_r with ∂L/∂lp_r = g_r (softmax cross-entropy's
 * gradient), with lse over the whole vocabulary (all parts) and s the part's first row. `lse`, `g`
 * and `t` are read at rowOffset + r, so a caller passes its whole [N] arrays and no slices.
 * The logsumexp is one workgroup of 256 per row (a max pass, then a sum pass, each a strided loop
 * and a tree reduction in workgroup memory); the gradient one invocation per element.
 */
import { checkLogitsGradOperands } from '../../logits-grad-operands';
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, groupsFor, type GpuKernel } from '../gpu-runtime';

const WG = 256;
const PER_GROUP = 256;
/** Workgroups per row of the grid (dispatch dimensions stop at 65,535). */
const GRID_X = 32768;

export const ROW_LSE: GpuKernel = {
  name: 'logits-row-lse',
  uniforms: ['u32', 'u32'],
  code: /* wgsl */ `
struct U { V: u32, n: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;
@group(0) @binding(2) var<uniform> u: U;

var<workgroup> part: array<f32, ${WG}>;

fn reduce(tid: u32, isMax: bool) -> f32 {
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (tid < s) {
      if (isMax) { part[tid] = max(part[tid], part[tid + s]); }
      else { part[tid] = part[tid] + part[tid + s]; }
    }
    workgroupBarrier();
  }
  let out = part[0];
  workgroupBarrier();
  return out;
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let row = wg.y * ${GRID_X}u + wg.x;
  if (row >= u.n) { return; } // uniform across the workgroup
  let base = row * u.V;
  var m = -3.402823e38;
  for (var j = tid; j < u.V; j += ${WG}u) { m = max(m, logits[base + j]); }
  part[tid] = m;
  m = reduce(tid, true);
  var sum = 0.0;
  for (var j = tid; j < u.V; j += ${WG}u) { sum += exp(logits[base + j] - m); }
  part[tid] = sum;
  sum = reduce(tid, false);
  if (tid == 0u) { lse[row] = m + log(sum); }
}
`,
};

export const LOGITS_GRAD: GpuKernel = {
  name: 'logits-xent-grad',
  uniforms: ['u32', 'u32', 'u32', 'i32'],
  code: /* wgsl */ `
struct U { n: u32, V: u32, rowOffset: u32, start: i32 }
@group(0) @binding(0) var<storage, read_write> d: array<f32>;
@group(0) @binding(1) var<storage, read> lse: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> t: array<i32>;
@group(0) @binding(4) var<uniform> u: U;

@compute @workgroup_size(${PER_GROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * ${GRID_X * PER_GROUP}u + gid.x;
  if (i >= u.n * u.V) { return; }
  let r = i / u.V;
  let j = i % u.V;
  let row = u.rowOffset + r;
  let p = exp(d[i] - lse[row]);
  var hot = 0.0;
  if (t[row] - u.start == i32(j)) { hot = 1.0; }
  d[i] = g[row] * (hot - p);
}
`,
};

/** The pipelines these two need, for `precompile`. */
export const LOGITS_ROWS_KERNELS: readonly GpuKernel[] = [ROW_LSE, LOGITS_GRAD];

/** lse [n] of `logits` [n, V] (row-wise logsumexp). Returns a new tensor. */
export function rowLogSumExp(logits: tf.Tensor2D): tf.Tensor1D {
  const [n, V] = logits.shape;
  const out = emptyTensor<tf.Tensor1D>([n]);
  if (n === 0) return out;
  dispatch(ROW_LSE, [logits, out], [Math.min(n, GRID_X), groupsFor(n, GRID_X)], [V, n]);
  return out;
}

/**
 * Overwrites `logits` [n, V_p] (a tensor the caller owns: it is written in place) with
 * g_r·(onehot(t_r − start) − exp(l − lse_r)), r read at rowOffset + r of `lse`, `g` (float32) and
 * `targets` (int32). Returns `logits`.
 */
export function logitsGradInPlace(
  logits: tf.Tensor2D,
  lse: tf.Tensor1D,
  g: tf.Tensor1D,
  targets: tf.Tensor1D,
  rowOffset: number,
  start: number,
): tf.Tensor2D {
  const [n, V] = logits.shape;
  checkLogitsGradOperands(logits, lse, g, targets, rowOffset);
  const groups = groupsFor(n * V, PER_GROUP);
  const grid: [number, number] = [Math.min(groups, GRID_X), groupsFor(groups, GRID_X)];
  if (n > 0) dispatch(LOGITS_GRAD, [logits, lse, g, targets], grid, [n, V, rowOffset, start]);
  return logits;
}
