/**
 * Causal attention with grouped-query heads as one differentiable op on webgpu: the fused
 * forward (kernels/attention-forward.ts, 1 dispatch) and its flash-style backward
 * (kernels/attention-backward.ts, 2 dispatches), joined by `tf.customGrad`. The forward saves
 * q, k, v, its output and the per-row logsumexp [B, H, T]; never the [B, H, T, S] probabilities.
 *
 * The model calls it through `attend` (src/model/attention.ts), which keeps the stock-op path
 * for other backends and when our kernels are switched off.
 */
import * as tf from '@tensorflow/tfjs';
import type { GpuKernel } from '../gpu-runtime';
import { attentionBackward, attentionBackwardPacked } from '../kernels/attention-backward';
import { attentionDkdvKernel, attentionDqKernel } from '../kernels/attention-backward-kernels';
import {
  attentionForward,
  attentionForwardKernel,
  attentionForwardPacked,
} from '../kernels/attention-forward';
import type { AttentionRope } from '../kernels/attention-operands';
import { KV_CACHE_ROPE_KERNEL, KV_CACHE_WRITE_KERNEL } from '../kernels/kv-cache-write';
import { ROPE_KERNEL } from '../kernels/rope';
import type { HeadLayout } from '../kernels/attention-wgsl';

/**
 * q [B, H, T, D]; k, v [B, K, S, D] (offset = S − T), or in layout 'tokens' [B, T, H, D] and
 * [B, S, K, D] (projections as they come, no transpose). Returns a new [B, T, H·D] tensor;
 * gradients flow to q, k and v in their own layout. Webgpu only.
 */
export function fusedAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  layout: HeadLayout = 'heads',
  rope: AttentionRope | null = null,
): tf.Tensor3D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [q4, k4, v4, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    const { o, stats } = attentionForward(q4, k4, v4, layout, rope); // [B, T, H·D], [2, B, H, T]
    save([q4, k4, v4, o, stats]);
    return {
      value: o,
      gradFunc: (dy, saved) => {
        const [sq, sk, sv, so, st] = saved as [
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor3D,
          tf.Tensor4D,
        ];
        const g = attentionBackward(sq, sk, sv, so, st, dy as tf.Tensor3D, layout, rope);
        return [g.dq, g.dk, g.dv];
      },
    };
  });
  return op(q, k, v) as tf.Tensor3D;
}

/**
 * Self-attention over a packed projection qkv [B, T, (H + 2K)·D] ([q | k | v] per token, GPT-2's
 * c_attn), read in place; returns a new [B, T, H·D]. The gradient is one dqkv of qkv's shape.
 * Webgpu only.
 */
export function fusedAttentionPacked(
  qkv: tf.Tensor3D,
  heads: { H: number; K: number; D: number },
): tf.Tensor3D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor3D, tf.GradSaveFunc];
    const { o, stats } = attentionForwardPacked(x, heads); // [B, T, H·D], [2, B, H, T]
    save([x, o, stats]);
    return {
      value: o,
      gradFunc: (dy, saved) => {
        const [sx, so, st] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor4D];
        return attentionBackwardPacked(sx, heads, so, st, dy as tf.Tensor3D);
      },
    };
  });
  return op(qkv) as tf.Tensor3D;
}

/**
 * The pipelines attention needs for head dim D (forward, backward, RoPE, the KV-cache writes),
 * for `precompile` at model load.
 */
export function attentionKernels(D: number): GpuKernel[] {
  return [
    attentionForwardKernel(D),
    attentionDqKernel(D),
    attentionDkdvKernel(D),
    attentionDkdvKernel(D, true),
    ROPE_KERNEL,
    KV_CACHE_WRITE_KERNEL,
    KV_CACHE_ROPE_KERNEL,
  ];
}
