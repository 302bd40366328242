/**
 * The row-wise steps of the chunked target log-probs (src/model/target-logprobs.ts) on the wasm
 * backend, over a chunk's logits l [n, V_p] where they lie in the wasm heap, so that a chunk holds
 * one [n, V_p] tensor instead of the nine the stock ops make (LoRA product, sum, sub, exp,
 * one-hot, …), as the WebGPU kernels of runtime/webgpu/kernels/logits-rows.ts do on the GPU:
 *
 *   row logsumexp:   lse_r = m_r + log Σ_j exp(l_rj − m_r),  m_r = max_j l_rj   (float64 sum)
 *   logits gradient: l_rj ← g_r·([j = t_r − s] − exp(l_rj − lse_r))              (in place)
 *   LoRA term:       l ← l + hA·Bᵀ, a block of rows at a time                   (in place)
 *
 * The gradient is ∂L/∂logits of lp_r = l_r[t_r] − lse_r with ∂L/∂lp_r = g_r, lse over the whole
 * vocabulary and s the part's first row; lse, g and t are read at rowOffset + r (the webgpu
 * kernel's contract). The loops are plain functions on typed arrays (tested on their own); the
 * wrappers below find the tensors in the heap. Any allocation may grow the heap and detach views,
 * so each wrapper allocates first and takes its views afterwards. Leaves the choice of backend
 * to model/logits-row-ops.ts.
 */
import { checkLogitsGradOperands } from '../logits-grad-operands';
import * as tf from '@tensorflow/tfjs';
import { addInto, asWasmBackend } from './wasm-heap';

/** Rows of hA·Bᵀ computed at once by `addLoraInPlace`: a [32, V] temporary (6 MiB at V = 49,152). */
export const LORA_BLOCK_ROWS = 32;

/** out[r] = logsumexp of row r of `logits` [n, V] (row-major), max-shifted, summed in float64. */
export function rowLogSumExpValues(
  logits: Float32Array,
  n: number,
  V: number,
  out: Float32Array,
): void {
  for (let r = 0; r < n; r++) {
    const base = r * V;
    let m = -Infinity;
    for (let j = 0; j < V; j++) {
      const x = logits[base + j] as number;
      if (x > m) m = x;
    }
    if (m === -Infinity || m === Infinity || Number.isNaN(m)) {
      out[r] = m; // all −∞ (log 0), or an overflow/NaN that the sum would only turn into NaN
      continue;
    }
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp((logits[base + j] as number) - m);
    out[r] = m + Math.log(sum);
  }
}

/**
 * d [n, V] ← g_r·([j = t_r − start] − exp(d_rj − lse_r)) in place, with r read at rowOffset + r
 * of `lse`, `g` and `targets`.
 */
export function logitsGradValues(
  d: Float32Array,
  n: number,
  V: number,
  lse: Float32Array,
  g: Float32Array,
  targets: Int32Array,
  rowOffset: number,
  start: number,
): void {
  for (let r = 0; r < n; r++) {
    const row = rowOffset + r;
    const base = r * V;
    const l = lse[row] as number;
    const gr = g[row] as number;
    const hot = (targets[row] as number) - start; // the target's column, if in this part
    const lHot = hot >= 0 && hot < V ? (d[base + hot] as number) : NaN;
    for (let j = 0; j < V; j++) d[base + j] = -gr * Math.exp((d[base + j] as number) - l);
    if (hot >= 0 && hot < V) d[base + hot] = gr * (1 - Math.exp(lHot - l));
  }
}

/** lse [n] of `logits` [n, V] (a wasm tensor). Returns a new tensor. */
export function rowLogSumExp(logits: tf.Tensor2D): tf.Tensor1D {
  const [n, V] = logits.shape;
  const wasm = asWasmBackend(tf.backend(), 'rowLogSumExp');
  const info = wasm.makeOutput([n], 'float32');
  const out = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor1D;
  const values = wasm.typedArrayFromHeap(logits) as Float32Array;
  rowLogSumExpValues(values, n, V, wasm.typedArrayFromHeap(info) as Float32Array);
  return out;
}

/**
 * Overwrites `logits` [n, V_p] (a wasm tensor the caller owns and no other tensor shares: it is
 * written in place) with g_r·(onehot(t_r − start) − exp(l − lse_r)), r read at rowOffset + r of
 * `lse`, `g` (float32) and `targets` (int32). Returns `logits`.
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
  const wasm = asWasmBackend(tf.backend(), 'logitsGradInPlace');
  const view = (t: tf.Tensor) => wasm.typedArrayFromHeap(t);
  logitsGradValues(
    view(logits) as Float32Array,
    n,
    V,
    view(lse) as Float32Array,
    view(g) as Float32Array,
    view(targets) as Int32Array,
    rowOffset,
    start,
  );
  return logits;
}

/**
 * logits [n, V] += hA [n, R]·B [V, R]ᵀ in place (logits: a wasm tensor the caller owns and no
 * other tensor shares), `LORA_BLOCK_ROWS` rows at a time, so the LoRA term never needs a second
 * [n, V] tensor. Returns `logits`.
 */
export function addLoraInPlace(logits: tf.Tensor2D, hA: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [n, V] = logits.shape;
  if (hA.shape[0] !== n || b.shape[0] !== V || hA.shape[1] !== b.shape[1]) {
    throw new RangeError(
      `addLoraInPlace: logits [${logits.shape}] += hA [${hA.shape}]·B [${b.shape}]ᵀ needs hA of ` +
        `${n} rows, B of ${V} rows and the same rank.`,
    );
  }
  const wasm = asWasmBackend(tf.backend(), 'addLoraInPlace');
  for (let r = 0; r < n; r += LORA_BLOCK_ROWS) {
    const rows = Math.min(LORA_BLOCK_ROWS, n - r);
    const block = tf.tidy(() => tf.matMul(tf.slice(hA, [r, 0], [rows, -1]), b, false, true)); // [rows, V]
    // Views after the product, which may have grown the heap.
    addInto(
      wasm.typedArrayFromHeap(logits) as Float32Array,
      r * V,
      wasm.typedArrayFromHeap(block) as Float32Array,
    );
    block.dispose();
  }
  return logits;
}
