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
 * Only for `gpuKernelsActive()`: the stock-op path stays in src/lora/lora-linear.ts. Works inside
 * activation checkpointing (src/model/checkpoint.ts): it saves what backward reads (x, A, B, down)
 * and captures only the frozen weight, which outlives the step.
 */
import * as tf from '@tensorflow/tfjs';
import { gemm } from '../kernels/gemm';
import { backwardGemm, forwardGemm, type FrozenWeight } from './projection';

/** y [N, out]: the frozen projection plus s·(x·Aᵀ)·Bᵀ. Returns a new tensor. */
export function loraProjection(
  x: tf.Tensor2D,
  frozen: FrozenWeight,
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  scale: number,
): tf.Tensor2D {
  checkFactors(frozen, a, b);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xIn, aIn, bIn] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const down = gemm(xIn, aIn, { transB: true }); // [N, R]
    const y = forwardGemm(xIn, frozen, { l: down, r: bIn, transR: true, scale }); // [N, out]
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
        return [dx, dA, dB];
      },
    };
  });
  return op(x, a, b) as tf.Tensor2D;
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
