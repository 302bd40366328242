/**
 * A linear projection as the model sees it: `apply(x)` on a 2-D batch of rows. The base layer
 * holds the frozen weight in its stored layout; LoRA wraps it (lora-linear.ts) and the model never
 * knows which one it has.
 */
import * as tf from '@tensorflow/tfjs';
import type { ProjectionSpec } from '../model/weight-names';

export interface Linear {
  readonly spec: ProjectionSpec;
  /** y = x·Wᵀ (+ b), or x·W (+ b) for GPT-2 Conv1D. Returns a new tensor [N, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D;
}

export class DenseLinear implements Linear {
  constructor(
    readonly spec: ProjectionSpec,
    /** `[out, in]` for nn.Linear, `[in, out]` for Conv1D. */
    readonly weight: tf.Tensor2D,
    readonly bias: tf.Tensor1D | null,
  ) {}

  apply(x: tf.Tensor2D): tf.Tensor2D {
    const y = tf.matMul(x, this.weight, false, this.spec.layout === 'out_in') as tf.Tensor2D; // [N, out]
    return this.bias ? (tf.add(y, this.bias) as tf.Tensor2D) : y;
  }
}
