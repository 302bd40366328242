/**
 * Prompt scoring on the device: for each row of logits [n, V] (positions of a prompt), the
 * log-softmax at a target id and the k largest log-softmax entries, written into one output that
 * all chunks of a prompt share, so the page reads it back once (src/model/prompt-scoring.ts).
 *
 *   lse = log Σ_j exp(l_j)        target: l_t − lse (0 where t < 0)
 *   top-k: the k ids with the largest logits (ties: lowest id), each with l_i − lse
 *
 * The top-k set is a radix select (row-select-wgsl.ts), never a sort of the row; the k pairs are written
 * in no particular order and the page sorts those few (descending log-prob, then id, as tf.topk
 * orders them).
 *
 * Output rows (rowOffset + r) of width 1 + 2k: [target log-prob, id₀, lp₀, id₁, lp₁, …], ids as
 * float32 (exact below 2²⁴).
 */
import type * as tf from '@tensorflow/tfjs';
import { dispatch, type GpuKernel } from '../gpu-runtime';
import { ROW_SELECT_WGSL } from './row-select-wgsl';

const CODE = /* wgsl */ `
struct Params {
  V: u32,
  k: u32,
  width: u32,
  rowOffset: u32,
}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> u: Params;

${ROW_SELECT_WGSL}

var<workgroup> slot: atomic<u32>;

fn inSearch(i: u32, key: u32) -> bool {
  return true;
}

fn searchWeight(l: f32) -> f32 {
  return 1.0;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let row = wg.x;
  let base = row * u.V;
  let r = u.rowOffset + row;
  let o = r * u.width;
  if (tid == 0u) { atomicStore(&slot, 0u); }
  let st = rowStats(base, u.V, tid);
  if (tid == 0u) {
    let t = targets[r];
    if (t >= 0) { out[o] = logits[base + u32(t)] - st.lse; } else { out[o] = 0.0; }
  }
  if (u.k > 0u) {
    let cut = radixCut(base, u.V, tid, f32(u.k), false);
    for (var i = tid; i < u.V; i += WG) {
      let l = logits[base + i];
      if (inCut(cut, i, orderKey(l))) {
        let s = atomicAdd(&slot, 1u);
        if (s < u.k) {
          out[o + 1u + 2u * s] = f32(i);
          out[o + 2u + 2u * s] = l - st.lse;
        }
      }
    }
  }
}
`;

export const LOG_SOFTMAX_ROWS: GpuKernel = {
  name: 'log-softmax-rows',
  uniforms: ['u32', 'u32', 'u32', 'u32'],
  code: CODE,
};

/**
 * Scores `logits` [n, V] as rows rowOffset … rowOffset + n − 1 of `out` (float32, rows of width
 * 1 + 2k), against `targets` (int32, one per output row; < 0: none). Writes `out` in place: pass a
 * tensor you own.
 */
export function logSoftmaxRows(
  logits: tf.Tensor2D,
  targets: tf.Tensor1D,
  out: tf.Tensor,
  rowOffset: number,
  k: number,
): void {
  const [n, V] = logits.shape;
  const width = 1 + 2 * k;
  if (k < 0 || k > V) throw new RangeError(`logSoftmaxRows: k = ${k} must be in [0, ${V}].`);
  if (targets.dtype !== 'int32' || targets.size < rowOffset + n) {
    throw new RangeError(
      `logSoftmaxRows: targets must be int32 with ≥ ${rowOffset + n} entries, got ${targets.dtype} [${targets.size}].`,
    );
  }
  if (out.size < (rowOffset + n) * width) {
    throw new RangeError(
      `logSoftmaxRows: out holds ${out.size} values; rows up to ${rowOffset + n} of width ${width} need ${(rowOffset + n) * width}.`,
    );
  }
  if (V >= 2 ** 24) {
    throw new RangeError(`logSoftmaxRows: V = ${V} ids would not be exact in float32 (max 2^24).`);
  }
  dispatch(LOG_SOFTMAX_ROWS, [logits, targets, out], n, [V, k, width, rowOffset]);
}
