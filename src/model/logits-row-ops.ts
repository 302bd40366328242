/**
 * Which implementation runs the row-wise steps of target-logprobs.ts over a chunk's logits
 * [n, V_p]: the LoRA term, the row logsumexp and the cross-entropy gradient. Our WebGPU kernels
 * when they are active, our wasm ones on the wasm backend (both keep one [n, V_p] tensor per
 * chunk), TF.js's stock ops otherwise (cpu, webgpu without our kernels). The maths and its
 * sources are target-logprobs.ts's; the kernels are runtime/webgpu/kernels/logits-rows.ts and
 * runtime/wasm-kernels/logits-rows.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import * as wasmRows from '../runtime/wasm-kernels/logits-rows';
import * as gpuRows from '../runtime/webgpu/kernels/logits-rows';

export type RowOpsKind = 'webgpu' | 'wasm' | 'stock';

export interface LogitsRowOps {
  readonly kind: RowOpsKind;
  /**
   * logits + hA·Bᵀ ([n, V_p] + [n, R]·[V_p, R]ᵀ). Consumes `logits` (written in place, or
   * disposed); returns the sum, a tensor the caller owns.
   */
  addLora(logits: tf.Tensor2D, hA: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D;
  /** lse [n] of logits [n, V_p]. Returns a new tensor. */
  rowLogSumExp(logits: tf.Tensor2D): tf.Tensor1D;
  /**
   * g_r·(onehot(t_r − start) − exp(l_r − lse_r)) for the chunk's rows r, read at rowOffset + r
   * of the whole [N] arrays lse, g and targets (int32). Consumes `logits` (overwritten in place,
   * or left to the caller's tidy); returns ∂logits [n, V_p], a tensor the caller owns.
   */
  logitsGrad(
    logits: tf.Tensor2D,
    lse: tf.Tensor1D,
    g: tf.Tensor1D,
    targets: tf.Tensor1D,
    rowOffset: number,
    start: number,
  ): tf.Tensor2D;
}

function stockAddLora(logits: tf.Tensor2D, hA: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const sum = tf.tidy(() => tf.add(logits, tf.matMul(hA, b, false, true)) as tf.Tensor2D); // [n, V_p]
  logits.dispose();
  return sum;
}

/** The stock ops: five or six [n, V_p] temporaries (sub, exp, one-hot, …); call inside a tidy. */
function stockLogitsGrad(
  logits: tf.Tensor2D,
  lse: tf.Tensor1D,
  g: tf.Tensor1D,
  targets: tf.Tensor1D,
  rowOffset: number,
  start: number,
): tf.Tensor2D {
  const n = logits.shape[0];
  const rows = (x: tf.Tensor1D) => tf.slice(x, [rowOffset], [n]); // [n]
  const prob = tf.exp(tf.sub(logits, tf.reshape(rows(lse), [n, 1]))); // [n, V_p]
  const t = rows(targets);
  const local = start === 0 ? t : tf.sub(t, tf.scalar(start, 'int32'));
  const onehot = tf.oneHot(local, logits.shape[1]); // [n, V_p]
  return tf.mul(tf.sub(onehot, prob), tf.reshape(rows(g), [n, 1])) as tf.Tensor2D; // [n, V_p]
}

const STOCK: LogitsRowOps = {
  kind: 'stock',
  addLora: stockAddLora,
  rowLogSumExp: (logits) => tf.logSumExp(logits, 1) as tf.Tensor1D,
  logitsGrad: stockLogitsGrad,
};

const WEBGPU: LogitsRowOps = {
  kind: 'webgpu',
  addLora: stockAddLora, // the unpacked path; packed-vocab.ts adds it in the product's dispatch
  rowLogSumExp: gpuRows.rowLogSumExp,
  logitsGrad: gpuRows.logitsGradInPlace,
};

const WASM: LogitsRowOps = {
  kind: 'wasm',
  addLora: wasmRows.addLoraInPlace,
  rowLogSumExp: wasmRows.rowLogSumExp,
  logitsGrad: wasmRows.logitsGradInPlace,
};

/**
 * The row operations for the active backend (and whether our WebGPU kernels are on); the stock
 * ops when `kind` is 'stock'.
 */
export function logitsRowOps(kind?: 'stock'): LogitsRowOps {
  if (kind === 'stock') return STOCK;
  if (gpuKernelsActive()) return WEBGPU;
  return tf.getBackend() === 'wasm' ? WASM : STOCK;
}
