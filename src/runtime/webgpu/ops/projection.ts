/**
 * A frozen projection as one differentiable WebGPU op: y = x·Wᵀ (+ b) for nn.Linear weights
 * `[out, in]`, y = x·W (+ b) for GPT-2 Conv1D weights `[in, out]`, with W float32 or packed bf16
 * pairs (kernels/gemm.ts). Forward is one GEMM dispatch (bias fused); backward gives only dx, one
 * dispatch (dx = dy·W, or dy·Wᵀ for Conv1D): W and b are frozen, so dW is never formed.
 *
 * Only for `gpuKernelsActive()`: the stock-op path stays in src/lora/linear.ts. The LoRA form of
 * the same projection is lora-projection.ts, which shares `forwardGemm` / `backwardGemm`.
 */
import * as tf from '@tensorflow/tfjs';
import {
  gemm,
  gemmKernel,
  type GemmOptions,
  type GemmVariant,
  type PackedBf16Matrix,
} from '../kernels/gemm';
import type { GpuKernel } from '../gpu-runtime';

/** A frozen weight as the kernels take it. */
export interface FrozenWeight {
  /** The stored layout, float32 or packed as bf16 pairs. */
  readonly weight: tf.Tensor2D | PackedBf16Matrix;
  /** `out_in`: nn.Linear (y = x·Wᵀ); `in_out`: GPT-2 Conv1D (y = x·W). */
  readonly layout: 'out_in' | 'in_out';
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** [out], or null. */
  readonly bias: tf.Tensor1D | null;
}

type LowRank = GemmOptions['lowRank'];

/** x·op(W) (+ b) (+ lowRank) [N, out], one dispatch; returns a new tensor. */
export function forwardGemm(x: tf.Tensor2D, frozen: FrozenWeight, lowRank?: LowRank): tf.Tensor2D {
  checkInput(x, frozen);
  return gemm(x, frozen.weight, {
    transB: frozen.layout === 'out_in',
    bias: frozen.bias,
    lowRank,
  });
}

/** dy·op(W)ᵀ (+ lowRank) [N, in], one dispatch: the input gradient; returns a new tensor. */
export function backwardGemm(
  dy: tf.Tensor2D,
  frozen: FrozenWeight,
  lowRank?: LowRank,
): tf.Tensor2D {
  return gemm(dy, frozen.weight, { transB: frozen.layout === 'in_out', lowRank });
}

/**
 * y = x·Wᵀ (+ b) (or x·W (+ b) for Conv1D), [N, out], differentiable w.r.t. x only. Returns a new
 * tensor.
 */
export function frozenProjection(x: tf.Tensor2D, frozen: FrozenWeight): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: forwardGemm(args[0] as tf.Tensor2D, frozen),
    gradFunc: (dy: tf.Tensor) => backwardGemm(dy as tf.Tensor2D, frozen),
  }));
  return op(x) as tf.Tensor2D;
}

function checkInput(x: tf.Tensor2D, frozen: FrozenWeight): void {
  if (x.rank !== 2 || x.shape[1] !== frozen.inFeatures) {
    throw new Error(
      `projection: input is [${x.shape}], expected [N, ${frozen.inFeatures}] (in features).`,
    );
  }
}

/** What selects the kernels of a projection: its layout, whether W is packed, bias, LoRA. */
export interface ProjectionShape {
  readonly layout: 'out_in' | 'in_out';
  readonly packed: boolean;
  readonly bias: boolean;
  readonly lora: boolean;
}

/** Every GEMM kernel a projection's forward and backward dispatch, for `precompile`. */
export function projectionKernels(p: ProjectionShape): GpuKernel[] {
  const base = { packedB: p.packed, accumulate: false };
  const variants: GemmVariant[] = [
    {
      transA: false,
      transB: p.layout === 'out_in',
      bias: p.bias,
      lowRank: p.lora ? { transR: true } : null,
      ...base,
    },
    {
      transA: false,
      transB: p.layout === 'in_out',
      bias: false,
      lowRank: p.lora ? { transR: false } : null,
      ...base,
    },
  ];
  if (p.lora) {
    const plain = { packedB: false, bias: false, accumulate: false, lowRank: null };
    variants.push(
      { transA: false, transB: true, ...plain }, // down = x·Aᵀ
      { transA: false, transB: false, ...plain }, // dyB = dy·B
      { transA: true, transB: false, ...plain }, // dA = s·dyBᵀ·x, dB = s·dyᵀ·down
    );
  }
  return variants.map(gemmKernel);
}
