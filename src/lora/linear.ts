/**
 * A linear projection as the model sees it: `apply(x)` on a 2-D batch of rows. The base layer
 * holds the frozen weight in its stored layout; LoRA wraps it (lora-linear.ts) and the model never
 * knows which one it has.
 *
 * On webgpu with our kernels active (`gpuKernelsActive()`), the projection is one GEMM dispatch
 * forward and one backward (src/runtime/webgpu/ops/projection.ts), and the weight may be stored
 * packed: bf16 pairs in an int32 tensor of ⌈size / 2⌉ words along the flattened stored layout
 * (src/io/dtype.ts `packBf16Pairs`), half the GPU memory of float32. Otherwise stock TF.js ops;
 * a packed weight is then widened to float32 for each call (one dispatch on webgpu).
 */
import * as tf from '@tensorflow/tfjs';
import { unpackBf16Pairs } from '../io/dtype';
import type { ProjectionSpec } from '../model/weight-names';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import type { PackedBf16Matrix } from '../runtime/webgpu/kernels/gemm';
import { unpackBf16Matrix } from '../runtime/webgpu/kernels/gemm-unpack';
import { frozenProjection, type FrozenWeight } from '../runtime/webgpu/ops/projection';

export interface Linear {
  readonly spec: ProjectionSpec;
  /** y = x·Wᵀ (+ b), or x·W (+ b) for GPT-2 Conv1D. Returns a new tensor [N, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D;
  /**
   * residual + apply(x), [N, out] (a new tensor), the add fused into the projection's dispatch
   * where our WebGPU kernels run it. Optional: without it the caller adds.
   */
  applyAdd?(x: tf.Tensor2D, residual: tf.Tensor2D): tf.Tensor2D;
}

export class DenseLinear implements Linear {
  constructor(
    readonly spec: ProjectionSpec,
    /**
     * `[out, in]` for nn.Linear, `[in, out]` for Conv1D: float32, or (webgpu) int32 bf16 pairs of
     * that layout, ⌈out·in / 2⌉ words.
     */
    readonly weight: tf.Tensor,
    readonly bias: tf.Tensor1D | null,
  ) {
    const size = spec.inFeatures * spec.outFeatures;
    const ok = this.packed ? weight.size === Math.ceil(size / 2) : weight.size === size;
    if (!ok) {
      throw new Error(
        `${spec.path}: weight [${weight.shape}] ${weight.dtype} does not hold a ` +
          `${spec.inFeatures} → ${spec.outFeatures} projection (float32, or int32 bf16 pairs).`,
      );
    }
  }

  /** Whether the weight is bf16 pairs in int32 words. */
  get packed(): boolean {
    return this.weight.dtype === 'int32';
  }

  /** The stored layout's shape: [out, in] or [in, out]. */
  get storedShape(): [number, number] {
    const { inFeatures: i, outFeatures: o, layout } = this.spec;
    return layout === 'out_in' ? [o, i] : [i, o];
  }

  /** The weight as our WebGPU kernels take it. */
  get frozen(): FrozenWeight {
    const { layout, inFeatures, outFeatures } = this.spec;
    const weight = this.packed ? this.packedMatrix() : (this.weight as tf.Tensor2D);
    return { weight, layout, inFeatures, outFeatures, bias: this.bias };
  }

  /**
   * Whether `apply` (and LoRA around it) takes our WebGPU kernels now: they are active and the
   * weight is frozen (a trainable weight needs the stock path's dW).
   */
  get usesGpuKernels(): boolean {
    return gpuKernelsActive() && !(this.weight instanceof tf.Variable && this.weight.trainable);
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    if (this.usesGpuKernels) return frozenProjection(x, this.frozen); // [N, out]
    if (this.packed) return tf.tidy(() => this.stock(x, this.unpacked()));
    return this.stock(x, this.weight as tf.Tensor2D);
  }

  applyAdd(x: tf.Tensor2D, residual: tf.Tensor2D): tf.Tensor2D {
    if (this.usesGpuKernels) return frozenProjection(x, this.frozen, residual); // [N, out]
    return tf.tidy(() => tf.add(residual, this.apply(x)));
  }

  private stock(x: tf.Tensor2D, weight: tf.Tensor2D): tf.Tensor2D {
    const y = tf.matMul(x, weight, false, this.spec.layout === 'out_in') as tf.Tensor2D; // [N, out]
    return this.bias ? (tf.add(y, this.bias) as tf.Tensor2D) : y;
  }

  private packedMatrix(): PackedBf16Matrix {
    return { words: this.weight, shape: this.storedShape };
  }

  /** The packed weight widened to float32 (new tensor): a dispatch on webgpu, on the CPU elsewhere. */
  private unpacked(): tf.Tensor2D {
    if (tf.getBackend() === 'webgpu') return unpackBf16Matrix(this.packedMatrix());
    const [rows, cols] = this.storedShape;
    const words = this.weight.dataSync() as Int32Array;
    return tf.tensor2d(unpackBf16Pairs(words, rows * cols), [rows, cols]);
  }
}
