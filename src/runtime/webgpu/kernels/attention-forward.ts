/**
 * Fused causal attention forward, flash-style (Dao et al. 2022, FlashAttention, Alg. 1; online
 * softmax: Milakov & Gimelshein 2018): for query head h (kv head ⌊h/G⌋) and query t at absolute
 * position offset + t,
 *   o_t = Σ_{s ≤ offset+t} softmax_s(q_t·k_s / √D) v_s,   lse_t = log Σ_s exp(q_t·k_s / √D),
 * in one dispatch. Each workgroup takes one (batch, kv head) and 64 query rows r = t·G + g of its
 * G query heads, so the G heads of a group read each key/value tile once from workgroup memory;
 * K and V are never repeated. Per row it keeps a running max m, sum l and accumulator over key
 * tiles, rescaling once per tile; keys past the causal limit of the workgroup's last row are not
 * read at all.
 *
 * Keys come from two regions so a KV cache can share a prompt's prefill across samples: keys
 * s < P from (kA, vA) at batch stride `aBatch` (0 = one prefill row for every sample), keys
 * s ≥ P from (kB, vB) at position s − P. A plain call binds the same k, v to both with P = S.
 * Output: o merged as [B, T, H·D] (as `attend` returns) and lse [B, H, T] for the backward.
 */
import * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, type GpuKernel } from '../gpu-runtime';
import {
  ropeArgs,
  type AttentionRope,
  type AttentionShape,
  type KvRegions,
  type QView,
} from './attention-operands';
import {
  attentionKernel,
  constants,
  dimsOf,
  headDim,
  queryRowMain,
  ropeDecl,
  rotateShared,
  rowInputs,
  rowOperand,
  stridesOf,
  type HeadDim,
  type HeadLayout,
} from './attention-wgsl';

const UNIFORMS = [
  'u32', // T
  'u32', // S
  'u32', // offset
  'u32', // H
  'u32', // G
  'u32', // K
  'f32', // scale
  'u32', // P: keys read from region A
  'u32', // qBatch: q's strides in elements (batch, head, token)
  'u32', // qHead
  'u32', // qTok
  'u32', // aBatch: region A's strides (batch 0: one row shared by every batch row)
  'u32', // aHead
  'u32', // aTok
  'u32', // bBatch: region B's strides
  'u32', // bHead
  'u32', // bTok
  'u32', // qOff: element offsets of q's rows and of region A's k and v rows (a packed qkv)
  'u32', // kOff
  'u32', // vOff
  'u32', // rope: 1 rotates q and k by the packed table (binding 7) on load
  'u32', // qRow0: table row of query t = 0
  'u32', // kRow0: table row of key s = 0
] as const;

function source(hd: HeadDim): string {
  return /* wgsl */ `
${constants(hd)}
struct U { T: u32, S: u32, offset: u32, H: u32, G: u32, K: u32, scale: f32, P: u32,
           qBatch: u32, qHead: u32, qTok: u32, aBatch: u32, aHead: u32, aTok: u32,
           bBatch: u32, bHead: u32, bTok: u32, qOff: u32, kOff: u32, vOff: u32,
           rope: u32, qRow0: u32, kRow0: u32 }
${rowInputs(hd, ['q', 'kA', 'vA', 'kB', 'vB'])}
${rowOperand(hd, 5, 'o', true)}
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
@group(0) @binding(8) var<uniform> u: U;
${ropeDecl(hd, 7)}

${queryRowMain(hd)}
  var qr: array<vec4<f32>, D4>;
  var acc: array<vec4<f32>, D4>;
  for (var j = 0u; j < D4; j++) { qr[j] = ld_q(qBase, j) * u.scale; }
  if (u.rope != 0u) { rotateRow(&qr, u.qRow0 + t, 1.0); }
  var m = -3.0e38;
  var l = 0.0;
  var sc: array<f32, TILE>;
  for (var s0 = 0u; s0 < sEnd; s0 += TILE) {
    for (var i = li; i < TILE * D4; i += WG) {
      let s = s0 + i / D4;
      let j = i % D4;
      var kx = vec4<f32>(0.0);
      var vx = vec4<f32>(0.0);
      if (s < sEnd) {
        if (s < u.P) {
          let base = b * u.aBatch + kvh * u.aHead + s * u.aTok;
          kx = ld_kA(u.kOff + base, j);
          vx = ld_vA(u.vOff + base, j);
        } else {
          let base = b * u.bBatch + kvh * u.bHead + (s - u.P) * u.bTok;
          kx = ld_kB(base, j);
          vx = ld_vB(base, j);
        }
      }
      ks[i] = kx;
      vs[i] = vx;
    }
    workgroupBarrier();
    let n = min(TILE, sEnd - s0);
    ${rotateShared('ks', 'n', (c) => `u.kRow0 + s0 + ${c}`)}
    var tileMax = m;
    for (var c = 0u; c < n; c++) {
      var d4 = vec4<f32>(0.0);
      for (var j = 0u; j < D4; j++) { d4 = fma(qr[j], ks[c * D4 + j], d4); }
      let x = d4.x + d4.y + d4.z + d4.w;
      sc[c] = x;
      if (s0 + c < mine) { tileMax = max(tileMax, x); }
    }
    let corr = exp(m - tileMax);
    l = l * corr;
    for (var j = 0u; j < D4; j++) { acc[j] = acc[j] * corr; }
    for (var c = 0u; c < n; c++) {
      if (s0 + c < mine) {
        let p = exp(sc[c] - tileMax);
        l = l + p;
        for (var j = 0u; j < D4; j++) { acc[j] = fma(vec4<f32>(p), vs[c * D4 + j], acc[j]); }
      }
    }
    m = tileMax;
    workgroupBarrier();
  }
  if (live) {
    let oBase = ((b * u.T + t) * u.H + h) * D;
    let inv = 1.0 / l;
    for (var j = 0u; j < D4; j++) { st_o(oBase, j, acc[j] * inv); }
    lse[(b * u.H + h) * u.T + t] = m + log(l);
  }
}`;
}

/** The forward kernel for head dim D (one pipeline per D). */
export function attentionForwardKernel(D: number): GpuKernel {
  return attentionKernel(`attention-forward-d${D}`, () => source(headDim(D)), UNIFORMS);
}

/**
 * Records the forward for q (in `qLayout`, or at the strides and offset of a `QView`) over
 * keys/values in `kv`, q and k rotated on load when `rope` is given; returns new tensors
 * o [B, T, H·D] and stats [2, B, H, T], whose first half is the logsumexp (the backward writes
 * Δ into the second). The caller owns both.
 */
export function attentionForwardRegions(
  q: tf.Tensor,
  qLayout: HeadLayout | QView,
  kv: KvRegions,
  shape: AttentionShape,
  rope: AttentionRope | null = null,
): { o: tf.Tensor3D; stats: tf.Tensor4D } {
  const { B, H, K, T, S, D } = shape;
  if (H % K !== 0) throw new RangeError(`${H} query heads are not a multiple of ${K} kv heads`);
  if (S < T) throw new RangeError(`attention over ${S} keys for ${T} queries: need S ≥ T`);
  const G = H / K;
  const qView =
    typeof qLayout === 'string' ? { strides: stridesOf(qLayout, H, T, D), offset: 0 } : qLayout;
  const o = emptyTensor<tf.Tensor3D>([B, T, H * D]);
  const stats = emptyTensor<tf.Tensor4D>([2, B, H, T]);
  const r = ropeArgs(rope, q, D);
  dispatch(
    attentionForwardKernel(D),
    [q, kv.kA, kv.vA, kv.kB, kv.vB, o, stats, r.table],
    [Math.ceil((G * T) / 64), B * K],
    [
      T,
      S,
      S - T,
      H,
      G,
      K,
      1 / Math.sqrt(D),
      kv.P,
      ...qView.strides,
      ...kv.aStrides,
      ...kv.bStrides,
      qView.offset,
      kv.kOff ?? 0,
      kv.vOff ?? 0,
      ...r.uniforms,
    ],
  );
  return { o, stats };
}

/**
 * q [B, H, T, D]; k, v [B, K, S, D] in layout 'heads' (or [B, T, H, D], [B, S, K, D] in layout
 * 'tokens'), contiguous; q and k rotated on load when `rope` is given. Returns new o [B, T, H·D]
 * and stats [2, B, H, T] (see `attentionForwardRegions`).
 */
export function attentionForward(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  layout: HeadLayout = 'heads',
  rope: AttentionRope | null = null,
): { o: tf.Tensor3D; stats: tf.Tensor4D } {
  const [B, H, T, D] = dimsOf(q.shape, layout);
  const [Bk, K, S, Dk] = dimsOf(k.shape, layout);
  if (Bk !== B || Dk !== D || !tf.util.arraysEqual(k.shape, v.shape)) {
    throw new RangeError(
      `attention: q ${JSON.stringify(q.shape)}, k ${JSON.stringify(k.shape)}, ` +
        `v ${JSON.stringify(v.shape)} do not fit layout '${layout}'`,
    );
  }
  const kvStrides = stridesOf(layout, K, S, D);
  const regions: KvRegions = {
    kA: k,
    vA: v,
    P: S,
    aStrides: kvStrides,
    kB: k,
    vB: v,
    bStrides: [0, 0, 0],
  };
  return attentionForwardRegions(q, layout, regions, { B, H, K, T, S, D }, rope);
}

/**
 * Self-attention over a packed projection qkv [B, T, (H + 2K)·D], each token's row [q | k | v]
 * (GPT-2's c_attn output), read in place: no split. Returns new o [B, T, H·D] and stats
 * [2, B, H, T].
 */
export function attentionForwardPacked(
  qkv: tf.Tensor3D,
  heads: { H: number; K: number; D: number },
): { o: tf.Tensor3D; stats: tf.Tensor4D } {
  const [B, T, W] = qkv.shape;
  const { H, K, D } = heads;
  if (W !== (H + 2 * K) * D) {
    throw new RangeError(`packed qkv rows of ${W} do not hold ${H} + 2·${K} heads of ${D}`);
  }
  const strides: [number, number, number] = [T * W, D, W];
  const regions: KvRegions = {
    kA: qkv,
    vA: qkv,
    P: T,
    aStrides: strides,
    kB: qkv,
    vB: qkv,
    bStrides: [0, 0, 0],
    kOff: H * D,
    vOff: (H + K) * D,
  };
  return attentionForwardRegions(qkv, { strides, offset: 0 }, regions, { B, H, K, T, S: T, D });
}
