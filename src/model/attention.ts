/**
 * Causal scaled dot-product attention with grouped-query heads (Vaswani et al. 2017, eq. 1;
 * GQA: Ainslie et al. 2023): softmax(q·kᵀ / √D + mask)·v, where query head h reads kv head
 * ⌊h / G⌋, G = H / K (transformers' `repeat_kv` order). Queries are grouped as [B, K, G·T, D] so
 * keys and values are never repeated in memory. Position t (absolute offset + t) sees keys s ≤ offset + t.
 */
import * as tf from '@tensorflow/tfjs';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { fusedAttention } from '../runtime/webgpu/ops/attention';

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
