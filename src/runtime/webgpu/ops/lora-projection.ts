/**
 * The LoRA projection as one differentiable WebGPU op (Hu et al. 2021, eq. 3; PEFT `lora.Linear`):
 *
 *   y = x·Wᵀ (+ b) + s·(x·Aᵀ)·Bᵀ,   x [N, in], W frozen, A [R, in], B [out, R], s = alpha / r
 *
 * (x·W for GPT-2 Conv1D weights [in, out]). Differentiable w.r.t. x, A and B; W and b are frozen
 * and are not inputs, so dW is never formed. With down = x·Aᵀ and dyB = dy·B:
 *
 *   forward, 2 dispatches:  down = x·Aᵀ;  y = x·Wᵀ + b + s·down·Bᵀ  (bias and low-rank term fused)
 *   backward, 4 dispatches: dyB = dy·B;  dx = dy·W + s·dyB·A  (fused);
 *                           dA = s·dyBᵀ·x;  dB = s·dyᵀ·down
 *
 * When nothing records a gradient (no tape: sampling, and the first forward of a checkpointed
 * block) and x has at most `INLINE_MAX_ROWS` rows, the forward is one dispatch instead: the GEMM
 * forms down = x·Aᵀ itself for its row tile (kernels/gemm.ts, inline low-rank term). Each column
 * tile recomputes its rows' x·Aᵀ, r/32 of the main product's multiply-adds; with one row tile
 * (decode: a row per sequence) the kernel is bound by reading W, so that work is nearly free and
 * the dispatch it saves (the dependent `down` GEMM, one workgroup) is most of the cost. With more
 * rows (training, long prompts) the main product becomes compute-bound and the two-dispatch form
 * is cheaper. A residual, when given, is added in the same dispatch (y + residual; its gradient
 * is dy).
 *
 * Only for `gpuKernelsActive()`: the stock-op path stays in src/lora/lora-linear.ts. Works inside
 * activation checkpointing (src/model/checkpoint.ts): it saves what backward reads (x, A, B, down)
 * and captures only the frozen weight, which outlives the step.
 */
import * as tf from '@tensorflow/tfjs';
import { gemm, INLINE_MAX_RANK } from '../kernels/gemm';
import { TILE } from '../kernels/gemm-wgsl';
import { backwardGemm, checkResidual, forwardGemm, type FrozenWeight } from './projection';

/** The most rows of x for the one-dispatch forward: one row tile of the GEMM. */
export const INLINE_MAX_ROWS = TILE;

/**
 * Whether a LoRA forward of `rows` rows at rank `rank` takes the one-dispatch inline form now:
 * no gradient tape is recording (`isTapeOn` is false also inside a customGrad's forward, whose
 * inner ops TF.js never records), x fits one row tile and the rank one staged K step.
 */
export function inlineLoraForward(rows: number, rank: number): boolean {
  return !tf.engine().isTapeOn() && rows <= INLINE_MAX_ROWS && rank <= INLINE_MAX_RANK;
}

/**
 * y [N, out]: the frozen projection plus s·(x·Aᵀ)·Bᵀ (plus `residual` [N, out] when given).
 * Returns a new tensor.
 */
export function loraProjection(
  x: tf.Tensor2D,
  frozen: FrozenWeight,
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  scale: number,
  residual: tf.Tensor2D | null = null,
): tf.Tensor2D {
  checkFactors(frozen, a, b);
  if (residual) checkResidual(x, frozen, residual);
  if (inlineLoraForward(x.shape[0], a.shape[0])) {
    const lowRank = { l: a, r: b, transR: true, scale, inline: true };
    return forwardGemm(x, frozen, lowRank, residual); // [N, out], one dispatch
  }
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xIn, aIn, bIn, resIn] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D?];
    const down = gemm(xIn, aIn, { transB: true }); // [N, R]
    const lowRank = { l: down, r: bIn, transR: true, scale };
    const y = forwardGemm(xIn, frozen, lowRank, resIn ?? null); // [N, out]
    save([xIn, aIn, bIn, down]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, as, bs, downs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D; // [N, out]
        const dyB = gemm(g, bs); // [N, R]
        const dx = backwardGemm(g, frozen, { l: dyB, r: as, transR: false, scale }); // [N, in]
        const dA = gemm(dyB, xs, { transA: true, alpha: scale }); // [R, in]
        const dB = gemm(g, downs, { transA: true, alpha: scale }); // [out, R]
        dyB.dispose();
        return residual ? [dx, dA, dB, tf.reshape(g, residual.shape)] : [dx, dA, dB];
      },
    };
  });
  return (residual ? op(x, a, b, residual) : op(x, a, b)) as tf.Tensor2D;
}

function checkFactors(frozen: FrozenWeight, a: tf.Tensor2D, b: tf.Tensor2D): void {
  const r = a.shape[0];
  if (a.shape[1] !== frozen.inFeatures || b.shape[0] !== frozen.outFeatures || b.shape[1] !== r) {
    throw new Error(
      `loraProjection: A [${a.shape}] and B [${b.shape}] do not fit a projection ` +
        `${frozen.inFeatures} → ${frozen.outFeatures}; they must be [r, in] and [out, r].`,
    );
  }
}
