/**
 * Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_ (norm_type 2).
 *
 *   total = sqrt(Σ_k ‖g_k‖²),   coef = min(max_norm / (total + 1e-6), 1),   g_k ← coef · g_k
 *
 * The coefficient stays on the device (no read-back to decide whether to clip): multiplying by
 * exactly 1 changes no bit, so "clip only if coef < 1" and "always scale by min(coef, 1)" agree,
 * which is also how torch applies it (clip_coef_clamped). The caller reads `norm` when it wants
 * the number (Loops' `grad_norm` is the norm BEFORE clipping).
 * Source: PyTorch, torch/nn/utils/clip_grad.py (clip_grad_norm_).
 */
import * as tf from '@tensorflow/tfjs';

/** torch's guard against division by zero in the clip coefficient. */
const CLIP_EPS = 1e-6;

/**
 * The global L2 norm of all gradients, a new scalar (0 for an empty list). The squares are added
 * one at a time, not with `tf.addN`: the webgpu backend of TF.js 4.22 binds every addN input in
 * one shader, and past the device's storage-buffer limit (8 by default) the pipeline is invalid and
 * the result is stale memory (a LoRA adapter has one gradient per A and B: 58 for the tiny model).
 * One at a time also sums in addN's order on cpu.
 */
export function globalNorm(grads: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (grads.length === 0) return tf.scalar(0);
    const squares = grads.map((g) => tf.sum(tf.square(g))); // [] each
    return tf.sqrt(squares.reduce((total, s) => tf.add(total, s))) as tf.Scalar; // []
  });
}

export interface ClippedGradients {
  /** The gradients scaled by min(max_norm / (norm + 1e-6), 1); new tensors, caller disposes. */
  readonly grads: tf.Tensor[];
  /** The global norm before clipping; a new scalar, caller disposes. */
  readonly norm: tf.Scalar;
}

/**
 * Clips `grads` to global norm `maxNorm`; `maxNorm` ≤ 0 means off (the gradients come back as
 * clones). Inputs are left untouched and owned by the caller.
 */
export function clipByGlobalNorm(grads: readonly tf.Tensor[], maxNorm: number): ClippedGradients {
  return tf.tidy(() => {
    const norm = globalNorm(grads);
    if (!(maxNorm > 0)) return { grads: grads.map((g) => tf.clone(g)), norm };
    const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, CLIP_EPS)), 1); // []
    return { grads: grads.map((g) => tf.mul(g, coef)), norm };
  });
}
