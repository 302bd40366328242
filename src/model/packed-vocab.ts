/**
 * The three products with a vocab table part W_p [V_p, C] that the model needs, for a part held
 * either as float32 or as bf16 pairs (int32 [V_p, C / 2], src/io/dtype.ts `packBf16Pairs`; the
 * loader packs frozen tables so on webgpu with our kernels, io/weights-loader.ts):
 *   rows:       W_p[t, :]                 (embedding gather, the target's logit)
 *   logits:     h·W_pᵀ (+ hA·B_pᵀ)        (unembedding, LoRA on lm_head folded in)
 *   input grad: d·W_p                     (the unembedding's backward w.r.t. h)
 * Packed parts go to our WebGPU kernels (kernels/gather-rows.ts, kernels/gemm.ts reading packed
 * B); with our kernels switched off after loading, a packed part is widened to float32 for each
 * call (one dispatch on webgpu, on the CPU elsewhere) and stock ops run, as DenseLinear does
 * (src/lora/linear.ts). Float32 parts take the stock ops exactly as before.
 *
 * Nothing here differentiates: the callers (weight-parts.ts, target-logprobs.ts) own the gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { unpackBf16Pairs } from '../io/dtype';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { gatherBf16Rows } from '../runtime/webgpu/kernels/gather-rows';
import { gemm, type PackedBf16Matrix } from '../runtime/webgpu/kernels/gemm';
import { unpackBf16Matrix } from '../runtime/webgpu/kernels/gemm-unpack';

/** Whether a part is bf16 pairs (int32 words) rather than float32. */
export function isPacked(part: tf.Tensor): boolean {
  return part.dtype === 'int32';
}

/** A packed part [V_p, C / 2] as the GEMM kernel takes it: [V_p, C] bf16. */
function matrix(part: tf.Tensor, width: number): PackedBf16Matrix {
  return { words: part, shape: [part.shape[0] as number, width] };
}

/** A packed part widened to float32 [V_p, C]. Returns a new tensor. */
export function widenPart(part: tf.Tensor, width: number): tf.Tensor2D {
  const m = matrix(part, width);
  if (tf.getBackend() === 'webgpu') return unpackBf16Matrix(m);
  const words = part.dataSync() as Int32Array;
  return tf.tensor2d(unpackBf16Pairs(words, m.shape[0] * width), [...m.shape]);
}

/**
 * Rows `ids` (int32, any shape S) of a table of packed parts starting at `starts`: [...S, C],
 * width C = `width`. Our gather kernel on webgpu, else the widened parts through a masked sum.
 * Returns a new tensor.
 */
export function packedRows(
  parts: readonly tf.Tensor[],
  starts: readonly number[],
  ids: tf.Tensor,
  width: number,
): tf.Tensor {
  if (gpuKernelsActive()) return gatherBf16Rows(ids, parts, starts, width);
  return tf.tidy(() => {
    let sum: tf.Tensor | null = null;
    parts.forEach((part, i) => {
      const n = part.shape[0] as number;
      const local = tf.sub(ids, tf.scalar(starts[i] ?? 0, 'int32')); // [...S]
      const inside = tf.logicalAnd(
        tf.greaterEqual(local, tf.scalar(0, 'int32')),
        tf.less(local, tf.scalar(n, 'int32')),
      );
      const rows = tf.gather(widenPart(part, width), tf.clipByValue(local, 0, n - 1)); // [...S, C]
      const masked = tf.mul(rows, tf.expandDims(tf.cast(inside, 'float32'), -1));
      sum = sum ? tf.add(sum, masked) : masked;
    });
    return sum as unknown as tf.Tensor;
  });
}

/**
 * h [n, C] · W_pᵀ (+ hA [n, R] · B_pᵀ, B_p [V_p, R]): logits [n, V_p]. One GEMM dispatch for a
 * packed part on webgpu (the LoRA term folded in as its low-rank steps). Returns a new tensor.
 */
export function partLogits(
  h: tf.Tensor2D,
  part: tf.Tensor,
  lora: { readonly hA: tf.Tensor2D; readonly b: tf.Tensor2D } | null = null,
): tf.Tensor2D {
  const width = h.shape[1];
  if (isPacked(part) && gpuKernelsActive()) {
    const lowRank = lora ? { l: lora.hA, r: lora.b, transR: true, scale: 1 } : null;
    return gemm(h, matrix(part, width), { transB: true, lowRank }); // [n, V_p]
  }
  return tf.tidy(() => {
    const w = isPacked(part) ? widenPart(part, width) : (part as tf.Tensor2D);
    const base = tf.matMul(h, w, false, true); // [n, V_p]
    return (lora ? tf.add(base, tf.matMul(lora.hA, lora.b, false, true)) : base) as tf.Tensor2D;
  });
}

/**
 * d [n, V_p] · W_p: [n, C]. With `into` (a [n, C] tensor the caller owns), our kernel adds the
 * product into it and returns it; otherwise a new tensor.
 */
export function timesPart(
  d: tf.Tensor2D,
  part: tf.Tensor,
  width: number,
  into: tf.Tensor2D | null = null,
): tf.Tensor2D {
  if (isPacked(part) && gpuKernelsActive()) {
    return gemm(d, matrix(part, width), { accumulate: into }); // [n, C]
  }
  return tf.tidy(() => {
    const w = isPacked(part) ? widenPart(part, width) : (part as tf.Tensor2D);
    const y = tf.matMul(d, w); // [n, C]
    return (into ? tf.add(into, y) : y) as tf.Tensor2D;
  });
}
