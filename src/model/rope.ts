/**
 * Rotary position embedding, Hugging Face "rotate-half" convention (Su et al. 2021, RoFormer §3.4;
 * transformers `apply_rotary_pos_emb`): dimension i pairs with i + D/2,
 *   inv_freq_i = θ^(−2i/D),  angle(p, i) = p · inv_freq_(i mod D/2),
 *   rope(x) = x · cos + rotate_half(x) · sin,  rotate_half([x₁, x₂]) = [−x₂, x₁].
 * The angle tables are computed in float64 on the CPU and uploaded once per call.
 */
import * as tf from '@tensorflow/tfjs';

/** cos and sin tables, [T, D] each, for positions offset … offset + T − 1. */
export function ropeTables(
  T: number,
  D: number,
  theta: number,
  offset: number,
): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const half = D / 2;
  const cos = new Float32Array(T * D);
  const sin = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (offset + t) * Math.pow(theta, (-2 * i) / D);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[t * D + i] = c;
      cos[t * D + i + half] = c;
      sin[t * D + i] = s;
      sin[t * D + i + half] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [T, D]), sin: tf.tensor2d(sin, [T, D]) };
}

/** Applies RoPE to x [B, heads, T, D] with tables [T, D]; returns a new tensor. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const D = x.shape[3];
    const [x1, x2] = tf.split(x, [D / 2, D / 2], 3) as [tf.Tensor4D, tf.Tensor4D]; // [B, h, T, D/2] each
    const rotated = tf.concat([tf.neg(x2), x1], 3); // [B, h, T, D]
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  });
}
