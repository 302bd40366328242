/**
 * The two row-wise steps of the chunked target log-probs (src/model/target-logprobs.ts) over a
 * chunk's logits l [n, V_p] (one part of the vocabulary), so that a chunk holds one [n, V_p]
 * buffer instead of the five or six the stock ops make (sub, exp, one-hot, …):
 *
 *   row logsumexp:   lse_r = m_r + log Σ_j exp(l_rj − m_r),  m_r = max_j l_rj
 *   logits gradient: l_rj ← g_r·([j = t_r − s] − exp(l_rj − lse_r))   (in place)
 *
 * The second is ∂L/∂logits of lp_r = l_r[t_r] − lse_r with ∂L/∂lp_r = g_r (softmax cross-entropy's
 * gradient), with lse over the whole vocabulary (all parts) and s the part's first row; a row whose
 * target is < 0 (ignored) gets zeros. `lse`, `g` and `t` are read at rowOffset + r, so a caller
 * passes its whole [N] arrays and no slices.
 * The logsumexp can also finish the log-probs in the same dispatch (`lseAndPick`), written at
 * rowOffset + r of whole [N] arrays: for a table in parts P_0, P_1, … it combines each part's
 * lse_p into the running lse (lse ← log(e^lse + e^lse_p)), adds the target's logit l_r[t_r − s]
 * when the target is in the part, and for the last part writes lp_r = picked − lse (0 for t_r < 0).
 * The logsumexp is one workgroup of 256 per row (a max pass, then a sum pass, each a strided loop
 * and a tree reduction in workgroup memory); the gradient one invocation per element.
 */
import { checkLogitsGradOperands } from '../../logits-grad-operands';
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, groupsFor, placeholderBuffer, type GpuKernel } from '../gpu-runtime';

const WG = 256;
const PER_GROUP = 256;
/** Workgroups per row of the grid (dispatch dimensions stop at 65,535). */
const GRID_X = 32768;

/** `ROW_LSE`'s flags: pick the target's logit; combine with the previous parts'; write lp. */
const PICK = 1;
const COMBINE = 2;
const FINISH = 4;

export const ROW_LSE: GpuKernel = {
  name: 'logits-row-lse',
  uniforms: ['u32', 'u32', 'u32', 'i32', 'u32'],
  code: /* wgsl */ `
struct U { V: u32, n: u32, rowOffset: u32, start: i32, flags: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<i32>;
@group(0) @binding(3) var<storage, read_write> lp: array<f32>;
@group(0) @binding(4) var<uniform> u: U;

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
  if (tid != 0u) { return; }
  let at = u.rowOffset + row;
  var l = m + log(sum);
  if ((u.flags & ${COMBINE}u) != 0u) {
    let before = lse[at];
    let top = max(before, l);
    l = top + log(exp(before - top) + exp(l - top));
  }
  lse[at] = l;
  if ((u.flags & ${PICK}u) == 0u) { return; }
  let tgt = t[at];
  let local = tgt - u.start;
  var picked = 0.0;
  if (local >= 0 && local < i32(u.V)) { picked = logits[base + u32(local)]; }
  if ((u.flags & ${COMBINE}u) != 0u) { picked += lp[at]; }
  if ((u.flags & ${FINISH}u) != 0u) {
    if (tgt < 0) { picked = 0.0; } else { picked -= l; }
  }
  lp[at] = picked;
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
  if (t[row] < 0) { d[i] = 0.0; return; }
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
  const unused = [placeholderBuffer(), placeholderBuffer(true)];
  dispatch(ROW_LSE, [logits, out, ...unused], rowGrid(n), [V, n, 0, 0, 0]);
  return out;
}

/** One workgroup a row. */
function rowGrid(n: number): [number, number] {
  return [Math.min(n, GRID_X), groupsFor(n, GRID_X)];
}

/** Where `lseAndPick` writes, and which part of the table the logits are. */
export interface LogProbRows {
  /** [N] float32, written at rowOffset + r: the logsumexp over the parts so far. */
  readonly lse: tf.Tensor1D;
  /** [N] float32, written likewise: the targets' logits so far; lp = picked − lse after `last`. */
  readonly lp: tf.Tensor1D;
  /** [N] int32 targets (< 0: ignored, lp 0). */
  readonly targets: tf.Tensor1D;
  readonly rowOffset: number;
  /** The part's first vocabulary row, and whether it is the first part and the last. */
  readonly start: number;
  readonly first: boolean;
  readonly last: boolean;
}

/**
 * For the chunk's logits [n, V_p] of one part: lse and the targets' logits of rows rowOffset + r,
 * combined with the earlier parts' (unless `first`), and lp once the `last` part is in (module
 * comment). Writes `out.lse` and `out.lp` in place (the caller owns them); one dispatch.
 */
export function lseAndPick(logits: tf.Tensor2D, out: LogProbRows): void {
  const [n, V] = logits.shape;
  const { lse, lp, targets, rowOffset, start } = out;
  const rows = rowOffset + n;
  if (lse.size < rows || lp.size < rows || targets.size < rows || targets.dtype !== 'int32') {
    throw new RangeError(
      `lseAndPick: rows ${rowOffset}…${rows - 1} need lse, lp (float32) and targets (int32) ` +
        `of ≥ ${rows}; got ${lse.size}, ${lp.size}, ${targets.dtype} ${targets.size}.`,
    );
  }
  const flags = PICK | (out.first ? 0 : COMBINE) | (out.last ? FINISH : 0);
  if (n > 0) {
    dispatch(ROW_LSE, [logits, lse, targets, lp], rowGrid(n), [V, n, rowOffset, start, flags]);
  }
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
