/**
 * LoRA around a frozen projection, exactly as Hugging Face PEFT computes it:
 *   y = base(x) + (alpha / r) · (x·Aᵀ)·Bᵀ,   A: [r, in], B: [out, r]
 * (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", eq. 3; PEFT `lora.Linear`).
 * W + ΔW is never formed: the update costs two thin matmuls of rank r.
 *
 * On webgpu with our kernels active and a dense base, the whole projection is one op
 * (src/runtime/webgpu/ops/lora-projection.ts): 2 dispatches forward, 4 backward, no dW; 1
 * dispatch forward when no gradient is recorded and x has few rows (decoding), and a residual
 * add (`applyAdd`) fused into the same dispatch.
 */
import * as tf from '@tensorflow/tfjs';
import { loraProjection } from '../runtime/webgpu/ops/lora-projection';
import { DenseLinear, type Linear } from './linear';

export class LoraLinear implements Linear {
  constructor(
    readonly base: Linear,
    /** [R, in] */
    readonly loraA: tf.Variable<tf.Rank.R2>,
    /** [out, R] */
    readonly loraB: tf.Variable<tf.Rank.R2>,
    readonly scale: number,
  ) {}

  get spec() {
    return this.base.spec;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    if (this.base instanceof DenseLinear && this.base.usesGpuKernels) {
      return loraProjection(x, this.base.frozen, this.loraA, this.loraB, this.scale); // [N, out]
    }
    return this.stock(x);
  }

  applyAdd(x: tf.Tensor2D, residual: tf.Tensor2D): tf.Tensor2D {
    if (this.base instanceof DenseLinear && this.base.usesGpuKernels) {
      const { frozen } = this.base;
      return loraProjection(x, frozen, this.loraA, this.loraB, this.scale, residual); // [N, out]
    }
    return tf.tidy(() => tf.add(residual, this.stock(x)));
  }

  private stock(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const y = this.base.apply(x); // [N, out]
      // The scale on the rank-R rows rather than the [N, out] product: the same value up to
      // rounding (exactly when it is a power of two, as α/r usually is), and a pass over R
      // columns instead of out, forward and backward.
      const down = tf.mul(tf.matMul(x, this.loraA, false, true), this.scale); // [N, R]
      const up = tf.matMul(down, this.loraB, false, true); // [N, out]
      return tf.add(y, up);
    });
  }
}
