/**
 * Causal scaled dot-product attention with grouped-query heads (Vaswani et al. 2017, eq. 1;
 * GQA: Ainslie et al. 2023): softmax(q·kᵀ / √D + mask)·v, where query head h reads kv head
 * ⌊h / G⌋, G = H / K (transformers' `repeat_kv` order). Queries are grouped as [B, K, G·T, D] so
 * keys and values are never repeated in memory. Position t (absolute offset + t) sees keys s ≤ offset + t.
 */
import * as tf from '@tensorflow/tfjs';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { fusedAttention, fusedAttentionPacked } from '../runtime/webgpu/ops/attention';
import type { KvCache } from './kv-cache';
import { rmsNorm } from './layers';
import { applyRope, type RopeTables } from './rope';

/** Additive causal mask [T, S]: 0 where key s is visible from query t, −1e9 elsewhere. */
export function causalMask(T: number, S: number, offset: number): tf.Tensor2D {
  const mask = new Float32Array(T * S);
  for (let t = 0; t < T; t++) for (let s = offset + t + 1; s < S; s++) mask[t * S + s] = -1e9;
  return tf.tensor2d(mask, [T, S]);
}

/**
 * q: [B, H, T, D]; k, v: [B, K, S, D] (S = offset + T with a cache, else T).
 * Returns the attended values merged back to [B, T, H·D]. On webgpu with our kernels on, one fused
 * op (no mask upload, K/V never repeated); elsewhere the stock ops below.
 */
export function attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor3D {
  return gpuKernelsActive() ? fusedAttention(q, k, v) : stockAttend(q, k, v);
}

/** `attend` in stock TF.js ops (every backend; the reference for the fused op). */
export function stockAttend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, H, T, D] = q.shape;
    const [, K, S] = k.shape;
    const G = H / K;
    const offset = S - T;
    const qg = tf.reshape(q, [B, K, G * T, D]); // [B, K, G·T, D]
    const scores = tf.mul(tf.matMul(qg, k, false, true), 1 / Math.sqrt(D)); // [B, K, G·T, S]
    const masked = tf.add(tf.reshape(scores, [B, H, T, S]), causalMask(T, S, offset)); // [B, H, T, S]
    const probs = tf.softmax(masked, -1); // [B, H, T, S]
    const out = tf.matMul(tf.reshape(probs, [B, K, G * T, S]), v); // [B, K, G·T, D]
    const heads = tf.transpose(tf.reshape(out, [B, H, T, D]), [0, 2, 1, 3]); // [B, T, H, D]
    return tf.reshape(heads, [B, T, H * D]);
  });
}

/** [B, T, h·D] → [B, h, T, D]; with one token (a decode step) the same memory, so a reshape. */
export function splitHeads(x: tf.Tensor3D, heads: number, D: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, T] = x.shape;
    if (T === 1) return tf.reshape(x, [B, heads, 1, D]);
    return tf.transpose(tf.reshape(x, [B, T, heads, D]), [0, 2, 1, 3]);
  });
}

/** Heads of a block's attention: H query heads and K kv heads of width D. */
export interface HeadSpec {
  readonly H: number;
  readonly K: number;
  readonly D: number;
}

export interface ProjectionAttentionOptions {
  /** RoPE tables of the call's positions (Llama/Qwen); null or absent: none (GPT-2). */
  readonly rope?: RopeTables | null;
  /** Qwen3's per-head RMSNorm of q and k (over D), before RoPE. */
  readonly headNorm?: {
    readonly q: tf.Tensor1D;
    readonly k: tf.Tensor1D;
    readonly eps: number;
  } | null;
  /** With a cache, k and v are appended to layer `index`'s and q attends over all of them. */
  readonly cache?: KvCache | null;
  readonly index?: number;
}

/**
 * A block's attention from its projections: q [B, T, H·D], k and v [B, T, K·D] → [B, T, H·D].
 * Heads are split, q and k normalised per head (Qwen3) and rotated (RoPE), then attended
 * causally, through the cache when there is one. Stock path: splitHeads, then the ops above. On
 * webgpu with our kernels the projections are read as they are, [B, T, h, D] (a reshape, no
 * transpose), and RoPE happens inside the attention kernels: one dispatch forward, two backward;
 * with a cache, one dispatch writes k, v into it and rotates q and k, and one attends.
 */
export function attendProjections(
  q3: tf.Tensor3D,
  k3: tf.Tensor3D,
  v3: tf.Tensor3D,
  { H, K, D }: HeadSpec,
  { rope = null, headNorm = null, cache = null, index = 0 }: ProjectionAttentionOptions = {},
): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T] = q3.shape;
    const gpu = gpuKernelsActive();
    const layout = gpu ? 'tokens' : 'heads';
    const heads = (x: tf.Tensor3D, h: number): tf.Tensor4D =>
      gpu ? tf.reshape(x, [B, T, h, D]) : splitHeads(x, h, D); // [B, T, h, D] or [B, h, T, D]
    let q = heads(q3, H);
    let k = heads(k3, K);
    const v = heads(v3, K);
    if (headNorm) {
      q = rmsNorm(q, headNorm.q, headNorm.eps);
      k = rmsNorm(k, headNorm.k, headNorm.eps);
    }
    // On the device a cache rotates q and k inside its write (one dispatch for the three), and
    // the attention kernels rotate them on load (forward and backward: no RoPE dispatches).
    if (cache && gpu) return cache.attend(index, q, k, v, layout, rope);
    if (gpu && rope?.packed && D % 2 === 0) {
      const inKernel = { cs: rope.packed, qRow0: rope.start, kRow0: rope.start };
      return fusedAttention(q, k, v, 'tokens', inKernel);
    }
    if (rope) {
      q = applyRope(q, rope, layout);
      k = applyRope(k, rope, layout);
    }
    if (cache) return cache.attend(index, q, k, v, layout);
    return gpu ? fusedAttention(q, k, v, 'tokens') : attend(q, k, v);
  });
}

/**
 * `attendProjections` for a packed projection qkv [B, T, (H + 2K)·D] ([q | k | v] per token, as
 * GPT-2's c_attn makes it; no RoPE). Stock path: split, then as above. On webgpu with our kernels
 * qkv is read in place (no split): one attention dispatch forward and two backward, or with a
 * cache one write and one attention.
 */
export function attendPacked(
  qkv: tf.Tensor3D,
  heads: HeadSpec,
  { cache = null, index = 0 }: Pick<ProjectionAttentionOptions, 'cache' | 'index'> = {},
): tf.Tensor3D {
  const { H, K, D } = heads;
  if (gpuKernelsActive()) {
    return cache ? cache.attendPacked(index, qkv, heads) : fusedAttentionPacked(qkv, heads);
  }
  return tf.tidy(() => {
    const [q, k, v] = tf.split(qkv, [H * D, K * D, K * D], 2) as tf.Tensor3D[];
    return attendProjections(q!, k!, v!, heads, { cache, index });
  });
}
