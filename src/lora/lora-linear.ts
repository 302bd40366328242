/**
 * LoRA around a frozen projection, exactly as Hugging Face PEFT computes it:
 *   y = base(x) + (alpha / r) · (x·Aᵀ)·Bᵀ,   A: [r, in], B: [out, r]
 * (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", eq. 3; PEFT `lora.Linear`).
 * W + ΔW is never formed: the update costs two thin matmuls of rank r.
 */
import * as tf from '@tensorflow/tfjs';
import type { Linear } from './linear';

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
    return tf.tidy(() => {
      const y = this.base.apply(x); // [N, out]
      const down = tf.matMul(x, this.loraA, false, true); // [N, R]
      const up = tf.matMul(down, this.loraB, false, true); // [N, out]
      return tf.add(y, tf.mul(up, this.scale));
    });
  }
}
