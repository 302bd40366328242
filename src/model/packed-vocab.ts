/**
 * The products with a vocab table part W_p [V_p, C] that the model needs, for a part held either
 * as float32 or as bf16 pairs (int32 [V_p, C / 2], src/io/dtype.ts `packBf16Pairs`; the loader
 * packs frozen tables so on webgpu with our kernels, io/weights-loader.ts):
 *   rows:       W[t, :]                   (embedding gather, the target's logit on stock row ops)
 *   logits:     h·W_pᵀ (+ hA·B_pᵀ)        (unembedding, LoRA on lm_head folded in)
 *   input grad: d·W_p                     (the unembedding's backward w.r.t. h; also d·B_p)
 *   transposed: dᵀ·x                      (∂W_p and ∂B_p of a trained table or LoRA)
 * With our WebGPU kernels active, every part, float32 or packed, goes to them (kernels/gemm.ts
 * takes either kind of B, kernels/gather-rows.ts either kind of table): one dispatch a product,
 * the LoRA term in the logits' dispatch, and sums over chunks or parts added in place. With our
 * kernels switched off after loading, a packed part is widened to float32 for each call (one
 * dispatch on webgpu, on the CPU elsewhere) and stock ops run, as DenseLinear does
 * (src/lora/linear.ts); float32 parts take the stock ops (wasm, cpu, webgpu without our kernels).
 *
 * Nothing here differentiates: the callers (weight-parts.ts, target-logprobs.ts) own the gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { unpackBf16Pairs } from '../io/dtype';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { gatherRowsGpu, gathersRows } from '../runtime/webgpu/kernels/gather-rows';
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

/** A part as the GEMM kernel's B: packed words with their shape, or the float32 tensor itself. */
function operandB(part: tf.Tensor, width: number): tf.Tensor2D | PackedBf16Matrix {
  return isPacked(part) ? matrix(part, width) : (part as tf.Tensor2D);
}

/** A packed part widened to float32 [V_p, C]. Returns a new tensor. */
export function widenPart(part: tf.Tensor, width: number): tf.Tensor2D {
  const m = matrix(part, width);
  if (tf.getBackend() === 'webgpu') return unpackBf16Matrix(m);
  const words = part.dataSync() as Int32Array;
  return tf.tensor2d(unpackBf16Pairs(words, m.shape[0] * width), [...m.shape]);
}

/**
 * Rows `ids` (int32, any shape S) of a table of parts (all packed or all float32) starting at
 * `starts`: [...S, C], width C = `width`; ids outside the table give zero rows. Our gather kernel
 * when `kernel` (default: when active; one dispatch a part, float32 tables need C a multiple of
 * 4; it has no gradient), else the parts (widened when packed) through a masked sum, or one stock
 * gather for a single float32 part. Returns a new tensor.
 */
export function tableRows(
  parts: readonly tf.Tensor[],
  starts: readonly number[],
  ids: tf.Tensor,
  width: number,
  kernel = gpuKernelsActive(),
): tf.Tensor {
  const packed = isPacked(parts[0] as tf.Tensor);
  if (kernel && gathersRows(width, packed)) {
    return gatherRowsGpu(ids, parts, starts, width, packed);
  }
  const [first] = parts;
  if (parts.length === 1 && first && !packed) return tf.gather(first, ids);
  return tf.tidy(() => {
    let sum: tf.Tensor | null = null;
    parts.forEach((part, i) => {
      const n = part.shape[0] as number;
      const local = tf.sub(ids, tf.scalar(starts[i] ?? 0, 'int32')); // [...S]
      const inside = tf.logicalAnd(
        tf.greaterEqual(local, tf.scalar(0, 'int32')),
        tf.less(local, tf.scalar(n, 'int32')),
      );
      // min/max, not clipByValue: the wasm backend's (4.22) leaves int32 above the upper bound.
      const clipped = tf.minimum(
        tf.maximum(local, tf.scalar(0, 'int32')),
        tf.scalar(n - 1, 'int32'),
      );
      const table = isPacked(part) ? widenPart(part, width) : part;
      const rows = tf.gather(table, clipped); // [...S, C]
      const masked = tf.mul(rows, tf.expandDims(tf.cast(inside, 'float32'), -1));
      sum = sum ? tf.add(sum, masked) : masked;
    });
    return sum as unknown as tf.Tensor;
  });
}

/**
 * h [n, C] · W_pᵀ (+ hA [n, R] · B_pᵀ, B_p [V_p, R]): logits [n, V_p]. One GEMM dispatch with
 * our kernels (the LoRA term folded in as its low-rank steps). Returns a new tensor.
 */
export function partLogits(
  h: tf.Tensor2D,
  part: tf.Tensor,
  lora: { readonly hA: tf.Tensor2D; readonly b: tf.Tensor2D } | null = null,
): tf.Tensor2D {
  const width = h.shape[1];
  if (gpuKernelsActive()) {
    const lowRank = lora ? { l: lora.hA, r: lora.b, transR: true, scale: 1 } : null;
    return gemm(h, operandB(part, width), { transB: true, lowRank }); // [n, V_p]
  }
  return tf.tidy(() => {
    const w = isPacked(part) ? widenPart(part, width) : (part as tf.Tensor2D);
    const base = tf.matMul(h, w, false, true); // [n, V_p]
    return (lora ? tf.add(base, tf.matMul(lora.hA, lora.b, false, true)) : base) as tf.Tensor2D;
  });
}

/**
 * d [n, V_p] · W_p: [n, C] (W_p may also be a float32 [V_p, R] such as a LoRA's B_p, width R).
 * With `into` (a [n, C] tensor the caller owns), the product is added into it: in place with
 * our kernels (returning `into`), else as a new tensor (`into` left to the caller).
 */
export function timesPart(
  d: tf.Tensor2D,
  part: tf.Tensor,
  width: number,
  into: tf.Tensor2D | null = null,
): tf.Tensor2D {
  if (gpuKernelsActive()) return gemm(d, operandB(part, width), { accumulate: into }); // [n, C]
  return tf.tidy(() => {
    const w = isPacked(part) ? widenPart(part, width) : (part as tf.Tensor2D);
    const y = tf.matMul(d, w); // [n, C]
    return (into ? tf.add(into, y) : y) as tf.Tensor2D;
  });
}

/**
 * dᵀ·x for d [n, V_p], x [n, K] (float32): [V_p, K], the gradient of a part (x = h) or of a
 * LoRA's B_p (x = hA). With `into` as in `timesPart`.
 */
export function transposedTimes(
  d: tf.Tensor2D,
  x: tf.Tensor2D,
  into: tf.Tensor2D | null = null,
): tf.Tensor2D {
  if (gpuKernelsActive()) return gemm(d, x, { transA: true, accumulate: into }); // [V_p, K]
  return tf.tidy(() => {
    const y = tf.matMul(d, x, true, false); // [V_p, K]
    return (into ? tf.add(into, y) : y) as tf.Tensor2D;
  });
}
