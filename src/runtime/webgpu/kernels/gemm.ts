/**
 * Tiled matrix product on WebGPU, with the extras the LoRA projection needs in the same dispatch:
 *
 *   C[M, N] = α·op(A)·op(B) (+ bias[N]) (+ s·L·op(R)) (+ Res[M, N]) (+ C, when accumulating)
 *
 * op(X) is X or Xᵀ (row-major storage either way). B may be float32 or packed bf16 pairs (a u32 /
 * int32 buffer, two bf16 per word along the flattened array: element 2i in the low half of word i,
 * src/io/dtype.ts `packBf16Pairs`), unpacked as it is loaded: bf16 is the top half of a float32,
 * so the low half widens as `bitcast<f32>(w << 16)` and the high half as
 * `bitcast<f32>(w & 0xffff0000)`, exactly. The low-rank term L [M, r] · R ([r, N], or [N, r]
 * transposed) runs as extra K-tiles through the same accumulator: [α·A | s·L] · [B ; R]. Inline,
 * L = A·Dᵀ is formed in the kernel from the factor D [r ≤ 32, K] while A's tiles are staged (the
 * one-dispatch LoRA forward of decoding; gemm-wgsl.ts `inlineLowRankStep`).
 *
 * Tiling (the scheme of published WebGPU matmul work, e.g. TF.js's `matmul_packed`): a workgroup
 * of 8×8 invocations computes a 32×32 output tile, each invocation a 4×4 block held in registers;
 * per 32-deep K step both operand tiles are staged in workgroup memory, K-major, so the inner loop
 * reads one vec4 of A and one of B for 16 FMAs. Global loads are coalesced along whichever axis
 * is contiguous for the operand's transposition. Edges are zero-filled, so any M, N, K works.
 *
 * A `GemmVariant` (its kernel's name, in counts) runs one of a few shaders (gemm-wgsl.ts
 * `GemmShader`: vec4 loads, inline low-rank term; each compiles once per device); the
 * transpositions, packed B, bias, residual, accumulate and the low-rank term are flags in the
 * uniforms, as are the sizes, α and s. Returns fresh tensors (or writes the caller's C when accumulating);
 * differentiation is the op layer's job (ops/lora-projection.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, groupsFor, placeholderBuffer, type GpuKernel } from '../gpu-runtime';
import {
  gemmFlags,
  gemmShader,
  gemmWgsl,
  TILE,
  TILE_K,
  type GemmShader,
  type GemmVariant,
} from './gemm-wgsl';

export type { GemmVariant } from './gemm-wgsl';

/** WebGPU's default maxComputeWorkgroupsPerDimension. */
const MAX_GROUPS = 65535;

/** A matrix of bf16 pairs: `words` (int32, ⌈rows·cols / 2⌉) holding the row-major [rows, cols]. */
export interface PackedBf16Matrix {
  readonly words: tf.Tensor;
  readonly shape: readonly [number, number];
}

export interface GemmOptions {
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** α, multiplying op(A)·op(B) (not the bias nor the low-rank term). Default 1. */
  readonly alpha?: number;
  /** [N] */
  readonly bias?: tf.Tensor1D | null;
  /**
   * s·L·op(R): L [M, r]; R [r, N], or [N, r] with transR. With `inline`, `l` is instead the factor
   * D [r, K] and the kernel forms L = A·Dᵀ itself (A not transposed, r ≤ `INLINE_MAX_RANK`).
   */
  readonly lowRank?: {
    readonly l: tf.Tensor2D;
    readonly r: tf.Tensor2D;
    readonly transR: boolean;
    readonly scale: number;
    readonly inline?: boolean;
  } | null;
  /** + Res, a read-only [M, N] tensor (C stays a new tensor: Res is not written). */
  readonly residual?: tf.Tensor2D | null;
  /** Add into this [M, N] tensor (written in place; the caller must own it) and return it. */
  readonly accumulate?: tf.Tensor2D | null;
}

/** The largest rank of an inline low-rank term: L's columns fit one staged K step. */
export const INLINE_MAX_RANK = TILE_K;

const kernels = new Map<string, GpuKernel>();
const shaders = new Map<string, string>();

/**
 * The kernel of one variant (cached: same object). Variants of one `GemmShader` share its code,
 * hence one pipeline (gpu-runtime caches pipelines per source).
 */
export function gemmKernel(variant: GemmVariant): GpuKernel {
  const key = variantName(variant);
  let kernel = kernels.get(key);
  if (!kernel) {
    const shader = gemmShader(variant);
    const shaderName = shaderNameOf(shader);
    let code = shaders.get(shaderName);
    if (code === undefined) {
      code = gemmWgsl(shader);
      shaders.set(shaderName, code);
    }
    kernel = {
      name: key,
      shader: shaderName,
      code,
      uniforms: ['u32', 'u32', 'u32', 'u32', 'f32', 'f32', 'u32'],
    };
    kernels.set(key, kernel);
  }
  return kernel;
}

function shaderNameOf(v: GemmShader): string {
  const parts = ['gemm'];
  if (v.inline) parts.push('lri');
  if (v.vec4) parts.push('vec4');
  return parts.join('-');
}

function variantName(v: GemmVariant): string {
  const ops = `${v.transA ? 't' : 'n'}${v.transB ? 't' : 'n'}`;
  const parts = [`gemm-${ops}`];
  if (v.packedB) parts.push('bf16');
  if (v.bias) parts.push('bias');
  if (v.lowRank) parts.push(`${v.lowRank.transR ? 'lrt' : 'lr'}${v.lowRank.inline ? 'i' : ''}`);
  if (v.residual) parts.push('res');
  if (v.accumulate) parts.push('acc');
  if (v.vec4) parts.push('vec4');
  return parts.join('-');
}

/**
 * C = α·op(A)·op(B) (+ bias) (+ s·L·op(R)) (+ Res) (+ C): one dispatch. A is float32 [M, K]
 * ([K, M] with transA); B is float32 [K, N] ([N, K] with transB) or the same layout packed as bf16
 * pairs. With an inline low-rank term L = A·Dᵀ is formed in the kernel (D given as `l`).
 * Returns a new [M, N] tensor (the caller disposes it), or `accumulate` itself.
 */
export function gemm(
  a: tf.Tensor2D,
  b: tf.Tensor2D | PackedBf16Matrix,
  options: GemmOptions = {},
): tf.Tensor2D {
  const { bias, lowRank, accumulate, residual } = options;
  const packed = !(b instanceof tf.Tensor);
  const { M, N, K, rank } = checkOperands(a, b, options);
  const alpha = options.alpha ?? 1;
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const variant: GemmVariant = {
    transA,
    transB,
    packedB: packed,
    bias: !!bias,
    accumulate: !!accumulate,
    lowRank: lowRank ? { transR: lowRank.transR, ...(lowRank.inline && { inline: true }) } : null,
    ...(residual && { residual: true }),
    vec4: vectorLoads(M, N, K, transA, transB, packed),
  };
  const c = accumulate ?? emptyTensor<tf.Tensor2D>([M, N]);
  // Every input is bound; the flags say which are read.
  const none = placeholderBuffer();
  const bindings = [
    a,
    packed ? b.words : b,
    bias ?? none,
    lowRank?.l ?? none,
    lowRank?.r ?? none,
    residual ?? none,
    c,
  ];
  // The inline term is formed from the staged α·A: its scale is s / α.
  const s = lowRank ? (lowRank.inline ? lowRank.scale / alpha : lowRank.scale) : 0;
  const uniforms = [M, N, K, rank, alpha, s, gemmFlags(variant)];
  dispatch(gemmKernel(variant), bindings, [groupsFor(N, TILE), groupsFor(M, TILE)], uniforms);
  return c;
}

/**
 * Whether A and B can be read in aligned vec4 words: the size along each one's contiguous axis
 * (A: K, or M when transposed; B: N, or K when transposed) a multiple of 4, of 8 for packed B
 * (a vec4 of u32 is 8 bf16). Tiles start at multiples of 32, so such a word is wholly inside the
 * matrix or wholly outside.
 */
export function vectorLoads(
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  packedB: boolean,
): boolean {
  const aRun = transA ? M : K;
  const bRun = transB ? K : N;
  return aRun % 4 === 0 && bRun % (packedB ? 8 : 4) === 0;
}

/** M, N, K and the low-rank r of a call; throws with the sizes when the operands do not fit. */
function checkOperands(
  a: tf.Tensor2D,
  b: tf.Tensor2D | PackedBf16Matrix,
  options: GemmOptions,
): { M: number; N: number; K: number; rank: number } {
  const { bias, lowRank, accumulate, residual } = options;
  const packed = !(b instanceof tf.Tensor);
  const bShape = packed ? b.shape : (b.shape as [number, number]);
  const [M, K] = options.transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kB, N] = options.transB ? [bShape[1], bShape[0]] : bShape;
  const fail = (why: string): never => {
    throw new Error(`gemm: ${why}`);
  };
  if (kB !== K) fail(`op(A) is [${M}, ${K}] but op(B) is [${kB}, ${N}]; inner sizes must match.`);
  if (packed) checkPacked(b);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== N)) {
    fail(`bias has shape [${bias.shape}], expected [${N}].`);
  }
  const rank = lowRank ? lowRank.l.shape[lowRank.inline ? 0 : 1] : 0;
  if (lowRank?.inline) {
    if (options.transA) fail('an inline low-rank term needs A not transposed.');
    if (lowRank.l.shape[1] !== K || rank > INLINE_MAX_RANK) {
      fail(
        `inline low-rank factor D [${lowRank.l.shape}] must be [r ≤ ${INLINE_MAX_RANK}, ${K}] ` +
          `(L = A·Dᵀ).`,
      );
    }
    if ((options.alpha ?? 1) === 0) fail('an inline low-rank term needs α ≠ 0.');
  }
  if (lowRank) {
    const lRows = lowRank.inline ? M : lowRank.l.shape[0];
    const want = lowRank.transR ? [N, rank] : [rank, N];
    if (lRows !== M || lowRank.r.shape.join() !== want.join()) {
      fail(
        `low-rank term L [${lowRank.l.shape}] · R [${lowRank.r.shape}] does not give [${M}, ${N}] ` +
          `(R must be ${lowRank.transR ? '[N, r]' : '[r, N]'}).`,
      );
    }
  }
  if (accumulate && (accumulate.shape[0] !== M || accumulate.shape[1] !== N)) {
    fail(`accumulate target is [${accumulate.shape}], expected [${M}, ${N}].`);
  }
  if (residual && (residual.shape[0] !== M || residual.shape[1] !== N)) {
    fail(`residual is [${residual.shape}], expected [${M}, ${N}].`);
  }
  const operands = [a, packed ? null : b, bias, lowRank?.l, lowRank?.r, residual];
  for (const t of [...operands, accumulate]) {
    if (t && t.dtype !== 'float32') fail(`float32 operands only, got ${t.dtype}.`);
  }
  if (
    accumulate &&
    [...operands, packed ? b.words : null].some((t) => t?.dataId === accumulate.dataId)
  ) {
    fail('the accumulate target is also an operand; pass a copy.');
  }
  if (groupsFor(N, TILE) > MAX_GROUPS || groupsFor(M, TILE) > MAX_GROUPS) {
    fail(`[${M}, ${N}] needs more than WebGPU's ${MAX_GROUPS} workgroups per dimension; split it.`);
  }
  return { M, N, K, rank };
}

function checkPacked(b: PackedBf16Matrix): void {
  const words = Math.ceil((b.shape[0] * b.shape[1]) / 2);
  if (b.words.dtype !== 'int32' || b.words.size !== words) {
    throw new Error(
      `gemm: packed B [${b.shape}] needs ${words} int32 words, got ${b.words.size} ${b.words.dtype}.`,
    );
  }
}
