/**
 * One decode step's token choice on the device: for each of B rows of logits [R, V] (R = B, or
 * R = 1 when every sequence draws from the prompt's last row), temperature, top-k, top-p and a
 * seeded inverse-CDF draw, exactly as src/sampling/choose-token.ts defines them, plus the chosen
 * token's log-probability under the raw logits. One workgroup per row, one dispatch per step.
 *
 *   T = 0:  argmax (lowest id on ties), no draw
 *   T > 0:  w_i = exp((l_i − max) / T); top-k cut (radix select by count); top-p cut over the
 *           top-k set (radix select by weight: the smallest descending prefix whose weight reaches
 *           top_p of the set's); then the first kept id, ascending, whose cumulative weight
 *           exceeds u · Σ kept w
 *   logprob = l_token − log Σ exp(l_j)   (temperature 1, before truncation; choose-token.ts says why)
 *
 * The draw u comes from each row's xoshiro128** state (src/sampling/rng.ts), kept on the device in
 * `rng` [B, 4] and advanced in place by two outputs per step when T > 0, as the page's
 * `nextFloat` does, so the same seed gives the same stream. u is the first output's top 24 bits
 * (u < 2⁻²⁴ below the page's 53-bit float): the float32 draw cannot hold more.
 *
 * Output, read back once per step: `result` [2, B] as float32: row b's id (exact below 2²⁴), then
 * its log-prob. A row whose logits hold NaN or +Infinity reports −(i + 1) for the first such index
 * i and its value; a row with nothing above −Infinity reports −(V + 1). `ids` [B] int32 holds the
 * same ids (0 on error), to feed the next step without an upload.
 *
 * Float32 against the page's float64: argmax and the top-k set are comparisons of the same float32
 * logits, so they agree exactly. The weights differ by about one float32 ulp (2⁻²⁴ relative), so a
 * top-p cut whose cumulative weight lands within that of top_p, or a draw that lands within that of
 * a cumulative boundary, can pick the neighbouring token: rare on a small vocabulary, and on a
 * large one mostly among tail tokens of near-equal probability.
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, type GpuKernel } from '../gpu-runtime';
import { ROW_SELECT_WGSL } from './row-select-wgsl';

/** What the kernel reads from `TokenChoiceParams` (core/sampling-params.ts). */
export interface SampleRowsParams {
  /** 0 = greedy. */
  readonly temperature: number;
  /** Keep the k largest logits; 0 = off. */
  readonly topK: number;
  /** Nucleus fraction; ≥ 1 = off. */
  readonly topP: number;
}

export interface SampledRows {
  /** [B] int32: each row's chosen id (0 where the row failed); feeds the next step. */
  readonly ids: tf.Tensor1D;
  /** [2·B] float32: ids (or error codes < 0), then log-probs; read back once. */
  readonly result: tf.Tensor1D;
}

const CODE = /* wgsl */ `
struct Params {
  rows: u32,
  V: u32,
  rowStride: u32,
  temperature: f32,
  topK: u32,
  topP: f32,
}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> rng: array<u32>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<i32>;
@group(0) @binding(4) var<uniform> u: Params;

${ROW_SELECT_WGSL}

var<private> rowMax: f32;
var<private> cutK: Cut;
// 0: the top-k search counts every element; 1: the top-p search sums over the top-k set.
var<private> stage: u32;
var<workgroup> drawU: f32;

fn inSearch(i: u32, key: u32) -> bool {
  return stage == 0u || inCut(cutK, i, key);
}

fn searchWeight(l: f32) -> f32 {
  let x = (l - rowMax) / u.temperature;
  return select(exp(x), 0.0, x < -104.0);
}

fn rotl(x: u32, k: u32) -> u32 {
  return (x << k) | (x >> (32u - k));
}

// xoshiro128** (rng.ts): one output, state advanced in place.
fn nextU32(row: u32) -> u32 {
  let o = row * 4u;
  var s0 = rng[o];
  var s1 = rng[o + 1u];
  var s2 = rng[o + 2u];
  var s3 = rng[o + 3u];
  let out = rotl(s1 * 5u, 7u) * 9u;
  let t = s1 << 9u;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl(s3, 11u);
  rng[o] = s0;
  rng[o + 1u] = s1;
  rng[o + 2u] = s2;
  rng[o + 3u] = s3;
  return out;
}

// Id i's weight when both cuts keep it, else 0.
fn keptWeight(base: u32, i: u32, cutP: Cut) -> f32 {
  let l = logits[base + i];
  let key = orderKey(l);
  return select(0.0, searchWeight(l), inCut(cutK, i, key) && inCut(cutP, i, key));
}

// Inverse CDF over the kept ids, ascending: each invocation sums a contiguous chunk; one scans the
// chunk sums; the chunk that holds u·S walks to the first id whose cumulative weight exceeds it.
fn drawToken(base: u32, n: u32, tid: u32, cutP: Cut) -> u32 {
  let span = chunkOf(n, tid);
  let lo = span.x;
  let hi = span.y;
  var own = 0.0;
  var last = NONE;
  for (var i = lo; i < hi; i++) {
    let w = keptWeight(base, i, cutP);
    if (w > 0.0) {
      own += w;
      last = i;
    }
  }
  redF[tid] = own;
  redU[tid] = last;
  workgroupBarrier();
  if (tid == 0u) {
    var s = 0.0;
    var fallback = NONE;
    for (var t = 0u; t < WG; t++) {
      redF[WG + t] = s;
      s += redF[t];
      if (redU[t] != NONE) { fallback = redU[t]; }
    }
    redF[2u * WG] = drawU * s;
    // Rounding can leave u·S at S: then the last live token, as choose-token.ts does.
    redU[WG] = fallback;
  }
  workgroupBarrier();
  let goal = redF[2u * WG];
  let before = redF[WG + tid];
  if (own > 0.0 && before <= goal && goal < before + own) {
    var cum = before;
    var pick = last;
    for (var i = lo; i < hi; i++) {
      let w = keptWeight(base, i, cutP);
      if (w > 0.0) {
        cum += w;
        if (cum > goal) {
          pick = i;
          break;
        }
      }
    }
    redU[WG] = pick;
  }
  workgroupBarrier();
  let id = redU[WG];
  workgroupBarrier();
  return id;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let row = wg.x;
  let base = row * u.rowStride;
  let n = u.V;
  stage = 0u;
  cutK = Cut(0u, NONE);
  if (tid == 0u && u.temperature > 0.0) {
    let a = nextU32(row);
    _ = nextU32(row);
    drawU = f32(a >> 8u) * (1.0 / 16777216.0);
  }
  let st = rowStats(base, n, tid);
  if (tid == 0u) { flag = select(0u, 1u, st.bad != NONE || st.argmax == NONE); }
  if (workgroupUniformLoad(&flag) != 0u) {
    if (tid == 0u) {
      if (st.bad != NONE) {
        result[row] = -f32(st.bad + 1u);
        result[u.rows + row] = logits[base + st.bad];
      } else {
        result[row] = -f32(n + 1u);
        result[u.rows + row] = 0.0;
      }
      ids[row] = 0;
    }
    return;
  }
  rowMax = st.max;
  var token = st.argmax;
  if (u.temperature > 0.0) {
    if (u.topK > 0u) { cutK = radixCut(base, n, tid, f32(u.topK), false); }
    var cutP = Cut(0u, NONE);
    if (u.topP < 1.0) {
      stage = 1u;
      cutP = radixCut(base, n, tid, u.topP, true);
    }
    token = drawToken(base, n, tid, cutP);
  }
  if (tid == 0u) {
    result[row] = f32(token);
    result[u.rows + row] = logits[base + token] - st.lse;
    ids[row] = i32(token);
  }
}
`;

export const SAMPLE_ROWS: GpuKernel = {
  name: 'sample-rows',
  uniforms: ['u32', 'u32', 'u32', 'f32', 'u32', 'f32'],
  code: CODE,
};

/**
 * Chooses one token for each of `rows` sequences from `logits` [R, V] (R = rows, or 1: every
 * sequence from row 0) and advances `rng` (int32 [rows·4], xoshiro128** states) in place when
 * T > 0. Returns fresh tensors the caller disposes.
 */
export function sampleRows(
  logits: tf.Tensor2D,
  rows: number,
  rng: tf.Tensor1D,
  params: SampleRowsParams,
): SampledRows {
  const [R, V] = logits.shape;
  if (R !== rows && R !== 1) {
    throw new RangeError(`sampleRows: logits have ${R} rows; expected ${rows} or 1.`);
  }
  if (rng.dtype !== 'int32' || rng.size !== rows * 4) {
    throw new RangeError(
      `sampleRows: rng must be int32 [${rows * 4}] (4 words per row), got ${rng.dtype} [${rng.size}].`,
    );
  }
  if (V >= 2 ** 24) {
    throw new RangeError(`sampleRows: V = ${V} ids would not be exact in float32 (max 2^24).`);
  }
  const ids = emptyTensor<tf.Tensor1D>([rows], 'int32');
  const result = emptyTensor<tf.Tensor1D>([2 * rows]);
  const { temperature, topK, topP } = params;
  dispatch(SAMPLE_ROWS, [logits, rng, result, ids], rows, [
    rows,
    V,
    R === 1 ? 0 : V,
    temperature,
    topK > 0 && topK < V ? topK : 0,
    topP,
  ]);
  return { ids, result };
}
