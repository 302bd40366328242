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
  INLINE_MAX_RANK,
  type GemmOptions,
  type GemmVariant,
  type PackedBf16Matrix,
  vectorLoads,
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

/** x·op(W) (+ b) (+ lowRank) (+ residual) [N, out], one dispatch; returns a new tensor. */
export function forwardGemm(
  x: tf.Tensor2D,
  frozen: FrozenWeight,
  lowRank?: LowRank,
  residual: tf.Tensor2D | null = null,
): tf.Tensor2D {
  checkInput(x, frozen);
  return gemm(x, frozen.weight, {
    transB: frozen.layout === 'out_in',
    bias: frozen.bias,
    lowRank,
    residual,
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
 * y = x·Wᵀ (+ b) (or x·W (+ b) for Conv1D) (+ residual [N, out], in the same dispatch), [N, out],
 * differentiable w.r.t. x (and the residual: its gradient is dy). Returns a new tensor.
 */
export function frozenProjection(
  x: tf.Tensor2D,
  frozen: FrozenWeight,
  residual: tf.Tensor2D | null = null,
): tf.Tensor2D {
  if (residual) checkResidual(x, frozen, residual);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    // args: x (, residual), then TF.js's save function.
    value: forwardGemm(
      args[0] as tf.Tensor2D,
      frozen,
      null,
      residual ? (args[1] as tf.Tensor2D) : null,
    ),
    gradFunc: (dy: tf.Tensor) => {
      const dx = backwardGemm(dy as tf.Tensor2D, frozen);
      return residual ? [dx, tf.reshape(dy, residual.shape)] : dx;
    },
  }));
  return (residual ? op(x, residual) : op(x)) as tf.Tensor2D;
}

/** Throws unless `residual` is [rows of x, out]. */
export function checkResidual(x: tf.Tensor2D, frozen: FrozenWeight, residual: tf.Tensor2D): void {
  const want = [x.shape[0], frozen.outFeatures];
  if (residual.rank !== 2 || residual.shape.join() !== want.join()) {
    throw new Error(`projection: residual is [${residual.shape}], expected [${want}].`);
  }
}

function checkInput(x: tf.Tensor2D, frozen: FrozenWeight): void {
  if (x.rank !== 2 || x.shape[1] !== frozen.inFeatures) {
    throw new Error(
      `projection: input is [${x.shape}], expected [N, ${frozen.inFeatures}] (in features).`,
    );
  }
}

/** What selects the kernels of a projection: layout, sizes, packed W, bias, LoRA rank. */
export interface ProjectionShape {
  readonly layout: 'out_in' | 'in_out';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly packed: boolean;
  readonly bias: boolean;
  /** The LoRA rank r; 0 or absent: the frozen projection alone. */
  readonly rank?: number;
  /** The block adds a residual to its output (Llama o/down, GPT-2 c_proj): fused in forward. */
  readonly residual?: boolean;
}

/**
 * Every GEMM kernel a projection's forward and backward dispatch, for `precompile`: the same
 * variants `gemm` picks (vec4 loads by `vectorLoads`, which depends on in, out and r, not on
 * the number of rows), the one-dispatch inline LoRA forward of decoding included.
 */
export function projectionKernels(p: ProjectionShape): GpuKernel[] {
  const { inFeatures: C, outFeatures: O, packed } = p;
  const r = p.rank ?? 0;
  const outIn = p.layout === 'out_in';
  const any = 4; // a row count: it matters only for a transposed A, whose rows here are r or out
  const variant = (
    v: Omit<GemmVariant, 'accumulate' | 'vec4'>,
    [M, N, K]: [number, number, number],
  ): GemmVariant => ({
    ...v,
    accumulate: false,
    vec4: vectorLoads(M, N, K, v.transA, v.transB, v.packedB),
  });
  const lr = (transR: boolean) => (r > 0 ? { transR } : null);
  const plain = { packedB: false, bias: false, lowRank: null };
  const res = p.residual ? { residual: true } : {};
  const forward = { transA: false, transB: outIn, packedB: packed, bias: p.bias, ...res };
  const variants = [
    // y = x·op(W) + b (+ s·down·Bᵀ) (+ residual)
    variant({ ...forward, lowRank: lr(true) }, [any, O, C]),
    // dx = dy·op(W)ᵀ (+ s·dyB·A)
    variant({ transA: false, transB: !outIn, packedB: packed, bias: false, lowRank: lr(false) }, [
      any,
      C,
      O,
    ]),
  ];
  if (r > 0 && r <= INLINE_MAX_RANK) {
    // the same without a tape and with few rows: down = x·Aᵀ formed in the kernel
    variants.push(variant({ ...forward, lowRank: { transR: true, inline: true } }, [any, O, C]));
  }
  if (r > 0) {
    variants.push(
      variant({ transA: false, transB: true, ...plain }, [any, r, C]), // down = x·Aᵀ
      variant({ transA: false, transB: false, ...plain }, [any, r, O]), // dyB = dy·B
      variant({ transA: true, transB: false, ...plain }, [r, C, any]), // dA = s·dyBᵀ·x
      variant({ transA: true, transB: false, ...plain }, [O, r, any]), // dB = s·dyᵀ·down
    );
  }
  return [...new Map(variants.map((v) => [gemmKernel(v).name, gemmKernel(v)])).values()];
}
