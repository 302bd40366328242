/**
 * The operand check shared by the two in-place cross-entropy gradient kernels
 * (wasm-kernels/logits-rows.ts and webgpu/kernels/logits-rows.ts `logitsGradInPlace`): both read
 * lse, g (float32) and targets (int32) at rowOffset + r for the n rows of float32 logits [n, V_p].
 */
import type * as tf from '@tensorflow/tfjs';

/** Throws a RangeError naming what is wrong when the operands cannot serve those rows. */
export function checkLogitsGradOperands(
  logits: tf.Tensor2D,
  lse: tf.Tensor1D,
  g: tf.Tensor1D,
  targets: tf.Tensor1D,
  rowOffset: number,
): void {
  const rows = rowOffset + logits.shape[0];
  const dtypes = [lse.dtype, g.dtype, targets.dtype, logits.dtype].join();
  if (
    dtypes === 'float32,float32,int32,float32' &&
    Math.min(lse.size, g.size, targets.size) >= rows
  )
    return;
  throw new RangeError(
    `logitsGradInPlace: rows ${rowOffset}…${rows - 1} need lse, g (float32) and targets ` +
      `(int32) of ≥ ${rows}; got ${lse.dtype} ${lse.size}, ${g.dtype} ${g.size}, ` +
      `${targets.dtype} ${targets.size}.`,
  );
}
