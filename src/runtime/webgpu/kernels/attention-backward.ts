/**
 * Fused causal attention backward (FlashAttention-2; the maths and the two kernels are in
 * attention-backward-kernels.ts): records `attention-dq` then `attention-dkdv` for the operands of
 * a forward call, in either head layout or over a packed qkv. Returns new gradient tensors.
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch } from '../gpu-runtime';
import { attentionDkdvKernel, attentionDqKernel } from './attention-backward-kernels';
import { ropeArgs, type AttentionRope, type AttentionShape } from './attention-operands';
import { dimsOf, stridesOf, type HeadLayout } from './attention-wgsl';

interface BackwardCall extends AttentionShape {
  readonly qStrides: readonly number[];
  readonly kvStrides: readonly number[];
  readonly offsets: readonly [number, number, number];
  readonly rope?: AttentionRope | null;
}

/**
 * The two dispatches; `stats` is the forward's [lse | Δ] (Δ written here); `dkv` one tensor
 * (packed) or [dk, dv].
 */
function backward(
  c: BackwardCall,
  inputs: [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor3D, tf.Tensor4D, tf.Tensor3D],
  dq: tf.Tensor,
  dkv: tf.Tensor | [tf.Tensor, tf.Tensor],
): void {
  const [q, k, v, o, stats, dO] = inputs;
  const G = c.H / c.K;
  const r = ropeArgs(c.rope, q, c.D);
  const uniforms = [
    ...[c.T, c.S, c.S - c.T, c.H, G, c.K, 1 / Math.sqrt(c.D)],
    ...c.qStrides,
    ...c.kvStrides,
    ...c.offsets,
    c.B * c.H * c.T,
    ...r.uniforms,
  ];
  const rows: [number, number] = [Math.ceil((G * c.T) / 64), c.B * c.K];
  dispatch(attentionDqKernel(c.D), [q, k, v, dO, o, stats, dq, r.table], rows, uniforms);
  const packed = !Array.isArray(dkv);
  dispatch(
    attentionDkdvKernel(c.D, packed),
    [q, k, v, dO, stats, ...(packed ? [dkv] : dkv), r.table],
    [Math.ceil(c.S / 64), c.B * c.K],
    uniforms,
  );
}

/**
 * Gradients of the fused forward. q [B, H, T, D]; k, v [B, K, S, D] in layout 'heads' (or
 * [B, T, H, D], [B, S, K, D] in layout 'tokens'); o and dO [B, T, H·D]; stats the forward's
 * [2, B, H, T] (its second half is overwritten with Δ); `rope` as the forward's. Returns new
 * dq, dk, dv shaped and laid out as q, k, v (the caller owns them), w.r.t. the unrotated q, k.
 */
export function attentionBackward(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  o: tf.Tensor3D,
  stats: tf.Tensor4D,
  dO: tf.Tensor3D,
  layout: HeadLayout = 'heads',
  rope: AttentionRope | null = null,
): { dq: tf.Tensor4D; dk: tf.Tensor4D; dv: tf.Tensor4D } {
  const [B, H, T, D] = dimsOf(q.shape, layout);
  const [, K, S] = dimsOf(k.shape, layout);
  const dq = emptyTensor<tf.Tensor4D>(q.shape);
  const dk = emptyTensor<tf.Tensor4D>(k.shape);
  const dv = emptyTensor<tf.Tensor4D>(v.shape);
  const call: BackwardCall = {
    ...{ B, H, K, T, S, D },
    qStrides: stridesOf(layout, H, T, D),
    kvStrides: stridesOf(layout, K, S, D),
    offsets: [0, 0, 0],
    rope,
  };
  backward(call, [q, k, v, o, stats, dO], dq, [dk, dv]);
  return { dq, dk, dv };
}

/**
 * The backward of `attentionForwardPacked`: qkv [B, T, (H + 2K)·D] as the forward read it; returns
 * a new dqkv of its shape (dq, dk, dv in the q, k and v columns).
 */
export function attentionBackwardPacked(
  qkv: tf.Tensor3D,
  heads: { H: number; K: number; D: number },
  o: tf.Tensor3D,
  stats: tf.Tensor4D,
  dO: tf.Tensor3D,
): tf.Tensor3D {
  const [B, T, W] = qkv.shape;
  const { H, K, D } = heads;
  const dqkv = emptyTensor<tf.Tensor3D>(qkv.shape);
  const strides = [T * W, D, W];
  const call: BackwardCall = {
    ...{ B, H, K, T, S: T, D },
    qStrides: strides,
    kvStrides: strides,
    offsets: [0, H * D, (H + K) * D],
  };
  backward(call, [qkv, qkv, qkv, o, stats, dO], dqkv, dqkv);
  return dqkv;
}
