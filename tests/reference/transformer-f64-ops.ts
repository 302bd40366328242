/**
 * The float64 building blocks of the reference transformer (`transformer-f64.ts`): plain loops over
 * row-major `Float64Array`s, no TF.js, each a direct transcription of its formula. They are slow on
 * purpose and trade speed for being obviously right; the engine is checked against them.
 *
 * Maths (shared/reference/models-and-formats.md §1.2, Hugging Face transformers):
 * - nn.Linear:  y = x·Wᵀ + b, W [out, in].  GPT-2 Conv1D: y = x·W + b, W [in, out].
 * - LoRA (PEFT): y = base(x) + s·(x·Aᵀ)·Bᵀ, A [r, in], B [out, r], s = lora_alpha / r (Hu et al. 2021).
 * - RMSNorm (Zhang & Sennrich 2019; LlamaRMSNorm): x · rsqrt(mean(x²) + eps) · w.
 * - LayerNorm (Ba et al. 2016): (x − mean) · rsqrt(var + eps) · w + b, biased variance.
 * - RoPE (Su et al. 2021), HF rotate-half form: pairs (i, i + D/2) of a head turn by angle
 *   p·θ^(−2i/D) at position p: (a, b) → (a·cos − b·sin, b·cos + a·sin).
 * - Attention: softmax(q·kᵀ / √D + causal mask)·v; with K < H kv heads, query head h reads kv
 *   head ⌊h / (H/K)⌋ (HF `repeat_kv`).
 * - SiLU: x·σ(x). GELU, tanh form ("gelu_new"): ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 */

/** Weights may come as float32 (as the engine holds them) or float64. */
export type Numbers = Float64Array | Float32Array;
/** What the ops read weights from: typed arrays, or plain arrays in hand-made tests. */
type Values = ArrayLike<number>;

/** LoRA factors of one projection, row-major: A [r, in], B [out, r], scale s = alpha / r. */
export interface LoraFactors {
  readonly A: Float64Array;
  readonly B: Float64Array;
  readonly r: number;
  readonly scale: number;
}

/** y = x·Wᵀ + b for nn.Linear (W [out, in]). x [T, in] → [T, out]. */
export function linearOutIn(
  x: Float64Array,
  T: number,
  inF: number,
  outF: number,
  w: Values,
  bias?: Values,
): Float64Array {
  const y = new Float64Array(T * outF); // [T, out]
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o]! : 0;
      for (let i = 0; i < inF; i++) s += x[t * inF + i]! * w[o * inF + i]!;
      y[t * outF + o] = s;
    }
  }
  return y;
}

/** y = x·W + b for GPT-2's Conv1D (W [in, out]). x [T, in] → [T, out]. */
export function linearInOut(
  x: Float64Array,
  T: number,
  inF: number,
  outF: number,
  w: Values,
  bias?: Values,
): Float64Array {
  const y = new Float64Array(T * outF); // [T, out]
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o]! : 0;
      for (let i = 0; i < inF; i++) s += x[t * inF + i]! * w[i * outF + o]!;
      y[t * outF + o] = s;
    }
  }
  return y;
}

/** Adds the LoRA term in place: y += s·(x·Aᵀ)·Bᵀ. x [T, in], y [T, out]. */
export function addLora(
  y: Float64Array,
  x: Float64Array,
  T: number,
  inF: number,
  outF: number,
  lora: LoraFactors,
): void {
  const { A, B, r, scale } = lora;
  const u = linearOutIn(x, T, inF, r, A); // [T, R]
  const d = linearOutIn(u, T, r, outF, B); // [T, out]
  for (let j = 0; j < y.length; j++) y[j] = y[j]! + scale * d[j]!;
}

/** RMSNorm over the last axis of width C for each of `rows` rows. x [rows, C] → [rows, C]. */
export function rmsNorm(
  x: Float64Array,
  rows: number,
  C: number,
  weight: Values,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * C);
  for (let t = 0; t < rows; t++) {
    let sq = 0;
    for (let c = 0; c < C; c++) sq += x[t * C + c]! ** 2;
    const inv = 1 / Math.sqrt(sq / C + eps);
    for (let c = 0; c < C; c++) y[t * C + c] = x[t * C + c]! * inv * weight[c]!;
  }
  return y;
}

/** LayerNorm over the last axis (biased variance). x [rows, C] → [rows, C]. */
export function layerNorm(
  x: Float64Array,
  rows: number,
  C: number,
  weight: Values,
  bias: Values,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * C);
  for (let t = 0; t < rows; t++) {
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[t * C + c]!;
    mean /= C;
    let variance = 0;
    for (let c = 0; c < C; c++) variance += (x[t * C + c]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / C + eps);
    for (let c = 0; c < C; c++) {
      y[t * C + c] = (x[t * C + c]! - mean) * inv * weight[c]! + bias[c]!;
    }
  }
  return y;
}

/**
 * Rotate-half RoPE in place on x [T, heads·D]; row t is at position `start + t`.
 * inv_freq_i = θ^(−2i/D) for i < D/2; channel i pairs with channel i + D/2.
 */
export function applyRope(
  x: Float64Array,
  T: number,
  heads: number,
  D: number,
  theta: number,
  start = 0,
): void {
  const half = D / 2;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (start + t) * theta ** ((-2 * i) / D);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < heads; h++) {
        const base = (t * heads + h) * D;
        const a = x[base + i]!;
        const b = x[base + i + half]!;
        x[base + i] = a * cos - b * sin;
        x[base + i + half] = b * cos + a * sin;
      }
    }
  }
}

/**
 * Causal grouped-query attention, scale 1/√D.
 * q [T, H·D], k [T, K·D], v [T, K·D] → [T, H·D]. Query t sees keys 0..t only.
 */
export function causalAttention(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  T: number,
  H: number,
  K: number,
  D: number,
): Float64Array {
  const out = new Float64Array(T * H * D); // [T, H*D]
  const group = H / K;
  const scale = 1 / Math.sqrt(D);
  const scores = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    const kv = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(t * H + h) * D + d]! * k[(s * K + kv) * D + d]!;
        scores[s] = dot * scale;
      }
      const probs = softmax(scores.subarray(0, t + 1));
      for (let s = 0; s <= t; s++) {
        for (let d = 0; d < D; d++) {
          const o = (t * H + h) * D + d;
          out[o] = out[o]! + probs[s]! * v[(s * K + kv) * D + d]!;
        }
      }
    }
  }
  return out;
}

/** softmax(z)_i = exp(z_i − max z) / Σ_j exp(z_j − max z). */
export function softmax(z: Float64Array): Float64Array {
  const lse = logSumExp(z, 0, z.length);
  return z.map((v) => Math.exp(v - lse));
}

/** log Σ_{i∈[from, to)} exp(z_i), shifted by the max so it cannot overflow. */
export function logSumExp(z: Float64Array, from: number, to: number): number {
  let max = -Infinity;
  for (let i = from; i < to; i++) max = Math.max(max, z[i]!);
  let sum = 0;
  for (let i = from; i < to; i++) sum += Math.exp(z[i]! - max);
  return max + Math.log(sum);
}

/** SiLU (swish): x·σ(x) = x / (1 + e^(−x)). */
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** GELU with the tanh approximation (HF "gelu_new" / "gelu_pytorch_tanh"). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}
