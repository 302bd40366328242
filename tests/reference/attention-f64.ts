/**
 * Causal grouped-query attention in float64, written from the definition (Vaswani et al. 2017,
 * eq. 1; GQA: query head h reads kv head ⌊h/G⌋), for the WebGPU kernels' parity tests:
 *   o[b, t, h, :] = Σ_{s ≤ offset+t} softmax_s(q[b,h,t]·k[b,⌊h/G⌋,s] / √D) v[b,⌊h/G⌋,s],
 * offset = S − T. q is [B, H, T, D], k and v [B, K, S, D], all row-major; o is [B, T, H·D].
 */
export interface AttentionDims {
  readonly B: number;
  readonly H: number;
  readonly K: number;
  readonly T: number;
  readonly S: number;
  readonly D: number;
}

export function referenceAttention(
  dims: AttentionDims,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
): Float64Array {
  const { B, H, K, T, S, D } = dims;
  const G = H / K;
  const offset = S - T;
  const out = new Float64Array(B * T * H * D);
  const scores = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        const visible = offset + t + 1;
        let max = -Infinity;
        for (let s = 0; s < visible; s++) {
          let dot = 0;
          for (let d = 0; d < D; d++) {
            dot += q[((b * H + h) * T + t) * D + d]! * k[((b * K + kvh) * S + s) * D + d]!;
          }
          scores[s] = dot / Math.sqrt(D);
          max = Math.max(max, scores[s]!);
        }
        let sum = 0;
        for (let s = 0; s < visible; s++) sum += Math.exp(scores[s]! - max);
        for (let s = 0; s < visible; s++) {
          const p = Math.exp(scores[s]! - max) / sum;
          for (let d = 0; d < D; d++) {
            const i = ((b * T + t) * H + h) * D + d;
            out[i] = out[i]! + p * v[((b * K + kvh) * S + s) * D + d]!;
          }
        }
      }
    }
  }
  return out;
}
