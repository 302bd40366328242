/**
 * BatchMatMul for the wasm backend, routing every float32 product to XNNPACK.
 *
 * The package's kernel calls XNNPACK's fully-connected operator only for C = A·B with no transpose
 * and a batch of 1 on both sides; anything else (A·Bᵀ, Aᵀ·B, [B, T, C]·[C, N], batched attention)
 * runs a blocked scalar loop. Measured in Node 20 on this repo's 2-core machine, [256,512]·[512,512]:
 * A·B 7 ms, A·Bᵀ 67 ms, Aᵀ·B 127 ms; [4,64,512]·[512,512] 172 ms against 7 ms for the same rows
 * as one 2-D product. Training hits all of these: y = x·Wᵀ, ∂L/∂x = ∂L/∂y·W, ∂L/∂W = ∂L/∂yᵀ·x.
 *
 * Rewrites, exact up to float32 summation order:
 *   Aᵀ·B = (Aᵀ)·B, A·Bᵀ = A·(Bᵀ)          transposes materialised by the wasm Transpose kernel;
 *   A·Bᵀ, A of at most SKINNY_MAX_ROWS rows 'skinny': our SIMD kernel reads B once, no copies
 *                                           (decoding one token per sequence; skinny-gemm.ts);
 *   A·Bᵀ = (B·Aᵀ)ᵀ                          'swap' when A has few rows next to B (short batches):
 *                                           transposes A and the output, never B;
 *   Aᵀ·B = (Bᵀ·A)ᵀ                          when B has few columns next to A (LoRA gradients,
 *                                           attention's ∂V): transposes B and the output, never A;
 *   [...b, M, K]·[K, N] = [(b·M), K]·[K, N]  leading batch folded into rows when B is shared;
 *   [b, M, K]·[b, K, N]                     one XNNPACK product per batch item, copied in and out;
 *   A·B, K ≥ SPLIT_K_MIN                    summed over blocks of K (split-k.ts: the unembedding's
 *                                           ∂h = ∂logits·W ran at a third of the 1024³ rate).
 * Small batched products (below PER_ITEM_MIN_MACS per item) and broadcasts other than "B shared"
 * stay on the package's kernel, which also raises its own shape errors.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { SKINNY_MAX_ROWS, skinnyGemm } from './skinny-gemm';
import {
  asWasmBackend,
  copyElements,
  TILED_MIN_ELEMENTS,
  transposeLastTwo,
  withShape,
} from './wasm-heap';
import { splitKProduct, splitsK } from './split-k';
import {
  preparedOperand,
  releasePrepared,
  reusingWeightsNow,
  type PreparedKind,
} from './weight-reuse';

export const BATCH_MAT_MUL = 'BatchMatMul';

/**
 * Per batch item, the multiply-adds from which one XNNPACK call (operator creation, weight packing,
 * two copies) beats the scalar loop; below it the package's kernel runs the whole batch. Measured:
 * per-item lost at 2^11 and 2^14 MACs per item (64×16×8, 16×32×16), won from 2^17 (32×64×32: 3–5×).
 */
export const PER_ITEM_MIN_MACS = 1 << 15;

/**
 * A caller's B of at least this many bytes goes to XNNPACK under a transient id (wasm-heap.ts,
 * `aliasOf`), so the packed copy XNNPACK makes of it is freed after the call instead of cached
 * for the life of B: weights are packed again on every use (about one copy of B per product),
 * and the heap no longer holds a second copy of every frozen weight. Smaller B (LoRA factors,
 * attention blocks) keep the cache. Inside a `reusingWeights` scope (weight-reuse.ts) a large B is
 * packed once for the scope instead.
 */
export const UNCACHED_B_MIN_BYTES = 1 << 18;

/** How a product is computed after the transposes are materialised. */
export interface MatMulPlan {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly batchA: number;
  readonly batchB: number;
  readonly outShape: number[];
  /**
   * 'fold': one 2-D product; 'skinny': A·Bᵀ by skinny-gemm.ts; 'swap': one 2-D product computed
   * as (B·Aᵀ)ᵀ; 'per-item': one per batch item; 'package': leave it to the package.
   */
  readonly route: 'fold' | 'skinny' | 'swap' | 'per-item' | 'package';
}

/** Plans C = op(A)·op(B) for shapes A, B (rank ≥ 2); `package` for anything it does not cover. */
export function planMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulPlan {
  const [a0, a1] = aShape.slice(-2) as [number, number];
  const [b0, b1] = bShape.slice(-2) as [number, number];
  const [m, kA] = transposeA ? [a1, a0] : [a0, a1];
  const [kB, n] = transposeB ? [b1, b0] : [b0, b1];
  const batchA = tf.util.sizeFromShape(aShape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(bShape.slice(0, -2));
  const base = { m, k: kA, n, batchA, batchB, outShape: [] as number[] };
  if (kA !== kB || aShape.length < 2 || bShape.length < 2) return { ...base, route: 'package' };
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  } catch {
    return { ...base, route: 'package' };
  }
  const planned = { ...base, outShape: [...outer, m, n] };
  if (batchB === 1) {
    const rows = batchA * m;
    const skinny = !transposeA && transposeB && rows <= SKINNY_MAX_ROWS && kA % 4 === 0;
    if (skinny && n % 4 === 0) return { ...planned, route: 'skinny' };
    // In a reusingWeights scope a large B is transposed and packed once for the scope, so A·Bᵀ
    // folds: no per-product transposes of A and of the output, which run on one thread.
    const kept = reusingWeightsNow() && n * kA * 4 >= UNCACHED_B_MIN_BYTES;
    return { ...planned, route: kept ? 'fold' : swapPays(rows, kA, n, transposeA, transposeB) };
  }
  const sameBatch = batchA === batchB || batchA === 1;
  const bigEnough = m * kA * n >= PER_ITEM_MIN_MACS;
  return { ...planned, route: sameBatch && bigEnough ? 'per-item' : 'package' };
}

/**
 * Whether A·Bᵀ (A: [M, K] after folding, B: [N, K], shared) is cheaper as (B·Aᵀ)ᵀ. Folding then
 * copies M·K + M·N elements (Aᵀ and the output) instead of the N·K of Bᵀ, and XNNPACK packs Aᵀ
 * rather than B; so swap while M·(K + N) < N·K. Measured in Node (wasm, 2-core machine): the tied
 * unembedding [1, 576]·[49152, 576]ᵀ 682 → 15 ms; [64, 576]·[1536, 576]ᵀ 10.7 → 3.9 ms;
 * [512, 576]·[1536, 576]ᵀ 33 vs 42 ms (no swap, as the rule says); [2048, 576]·[576, 576]ᵀ 39 vs 67.
 */
function swapPays(
  m: number,
  k: number,
  n: number,
  transposeA: boolean,
  transposeB: boolean,
): 'fold' | 'swap' {
  return !transposeA && transposeB && m * (k + n) < n * k ? 'swap' : 'fold';
}

/**
 * Whether Aᵀ·B (per item A: [K, M], B: [K, N], the same batch) is cheaper as (Bᵀ·A)ᵀ: that
 * transposes B and the result (K·N + M·N elements) instead of A (K·M), and A goes to XNNPACK as
 * its B, packed by a sequential copy where a transpose reads with a stride. It pays for the LoRA
 * gradients ∂yᵀ·(x·Aᵀ) ([256, 1536]ᵀ·[256, 8]) and attention's ∂V = Pᵀ·∂O ([768, 256]ᵀ·[768, 64]
 * per kv head). Measured in Node (wasm, one thread): [256, 192]ᵀ·[256, 8] 0.33 → 0.08 ms,
 * [256, 576]ᵀ·[256, 8] 0.94 → 0.78, [256, 1536]ᵀ·[256, 8] 2.6 → 2.1, attention's 6.6 → 6.5.
 * An A of TILED_MIN_ELEMENTS or more is not swapped: [170, 49152]ᵀ·[170, 8] (the unembedding's
 * LoRA) took 18–22 ms transposed by the package (wasm-heap.ts, STRIDED_ROWS_MAX), 40 swapped. The
 * reverse product never swaps again: both conditions would need 2·M·N < 0.
 */
export function swapsTransposedA(
  plan: MatMulPlan,
  transposeA: boolean,
  transposeB: boolean,
): boolean {
  const { m, k, n } = plan;
  const routed = plan.route === 'fold' || plan.route === 'per-item';
  const small = k * m < TILED_MIN_ELEMENTS;
  return (
    routed &&
    small &&
    transposeA &&
    !transposeB &&
    plan.batchA === plan.batchB &&
    n * (k + m) < k * m
  );
}

/** Wraps the package's BatchMatMul; `original` computes every product handed to it untransposed. */
export function makeBatchMatMul(original: tf.KernelFunc): tf.KernelFunc {
  const kernel: tf.KernelFunc = (args) => {
    const a = args.inputs.a as tf.TensorInfo;
    const b = args.inputs.b as tf.TensorInfo;
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const plan = planMatMul(a.shape, b.shape, transposeA, transposeB);
    if (plan.route === 'package') return original(args);
    const wasm = asWasmBackend(args.backend, BATCH_MAT_MUL);
    if (plan.route === 'skinny') {
      const out = wasm.makeOutput(plan.outShape, 'float32'); // [...batchA, M, N]
      if (skinnyGemm(wasm, a, b, out, plan.batchA * plan.m, plan.n, plan.k)) return out;
      wasm.disposeData(out.dataId); // no wasm SIMD here: XNNPACK's swapped product instead
    }
    if (plan.route === 'swap' || plan.route === 'skinny')
      return swapped(wasm, a, b, plan, original);
    if (swapsTransposedA(plan, transposeA, transposeB)) {
      const attrs = { transposeA: true, transposeB: false };
      const d = kernel({ inputs: { a: b, b: a }, backend: wasm, attrs }) as tf.TensorInfo; // [..., N, M]
      const out = transposeLastTwo(wasm, d); // [..., M, N]
      wasm.disposeData(d.dataId);
      return { ...out, shape: plan.outShape };
    }
    const product = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo =>
      original({
        inputs: { a: x, b: y },
        backend: wasm,
        attrs: { transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
    const a2 = transposeA ? transposeLastTwo(wasm, a) : a; // [...batchA, M, K]
    if (plan.route === 'fold' && !transposeB && splitsK(plan.k)) {
      const rows = plan.batchA * plan.m;
      const out = splitKProduct(wasm, a2, b, rows, plan.k, plan.n, product);
      if (a2 !== a) wasm.disposeData(a2.dataId);
      return { ...out, shape: plan.outShape };
    }
    const operand = operandB(wasm, b, transposeB);
    const b2 = operand.info; // [...batchB, K, N]
    const out =
      plan.route === 'fold'
        ? foldRows(a2, b2, plan, product)
        : perItem(wasm, a2, b2, plan, product);
    if (a2 !== a) wasm.disposeData(a2.dataId);
    if (operand.kind && operand.release) releasePrepared(wasm, b2, operand.kind);
    return { ...out, shape: plan.outShape };
  };
  return kernel;
}

type Product = (x: tf.TensorInfo, y: tf.TensorInfo) => tf.TensorInfo;

/**
 * B as the package's product takes it ([K, N]): B itself; Bᵀ; or, for a large B (a weight), an
 * `aliasOf` id so that XNNPACK's packed copy goes with the call. A large B's Bᵀ or alias is kept
 * for the rest of a `reusingWeights` scope when one is open (weight-reuse.ts); `release` says
 * whether the caller frees it.
 */
function operandB(
  wasm: BackendWasm,
  b: tf.TensorInfo,
  transposeB: boolean,
): { info: tf.TensorInfo; kind: PreparedKind | null; release: boolean } {
  const large = tf.util.sizeFromShape(b.shape) * 4 >= UNCACHED_B_MIN_BYTES;
  if (!transposeB && !large) return { info: b, kind: null, release: false };
  const kind: PreparedKind = transposeB ? 'transposed' : 'alias';
  if (!large) return { info: transposeLastTwo(wasm, b), kind, release: true };
  return { ...preparedOperand(wasm, b, kind), kind };
}

/** B shared by every batch item: [(batchA·M), K]·[K, N] in one call. */
function foldRows(a: tf.TensorInfo, b: tf.TensorInfo, p: MatMulPlan, product: Product) {
  return product(withShape(a, [1, p.batchA * p.m, p.k]), withShape(b, [1, p.k, p.n])); // [1, bM, N]
}

/** A·Bᵀ as (B·Aᵀ)ᵀ, B shared: [N, K]·[K, bM] in one call, then the [N, bM] result transposed. */
function swapped(
  wasm: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  p: MatMulPlan,
  original: tf.KernelFunc,
): tf.TensorInfo {
  const rows = p.batchA * p.m;
  const aT = transposeLastTwo(wasm, withShape(a, [rows, p.k])); // [K, bM]
  const productT = original({
    inputs: { a: withShape(b, [1, p.n, p.k]), b: withShape(aT, [1, p.k, rows]) },
    backend: wasm,
    attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo; // [1, N, bM]
  wasm.disposeData(aT.dataId); // also frees the XNNPACK operator cached on Aᵀ's id
  const out = transposeLastTwo(wasm, withShape(productT, [p.n, rows])); // [bM, N]
  wasm.disposeData(productT.dataId);
  return { ...out, shape: p.outShape };
}

/** One product per batch item; A may be shared (batchA = 1). */
function perItem(
  wasm: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  p: MatMulPlan,
  product: Product,
): tf.TensorInfo {
  const { m, k, n } = p;
  const out = wasm.makeOutput([p.batchB, m, n], 'float32'); // [b, M, N]
  const aItem = p.batchA === 1 ? withShape(a, [1, m, k]) : wasm.makeOutput([1, m, k], 'float32');
  for (let i = 0; i < p.batchB; i++) {
    if (p.batchA !== 1) copyElements(wasm, a, i * m * k, aItem, 0, m * k);
    const bItem = wasm.makeOutput([1, k, n], 'float32'); // new id: XNNPACK caches on B's id
    copyElements(wasm, b, i * k * n, bItem, 0, k * n);
    const c = product(aItem, bItem); // [1, M, N]
    copyElements(wasm, c, 0, out, i * m * n, m * n);
    wasm.disposeData(c.dataId);
    wasm.disposeData(bItem.dataId);
  }
  if (p.batchA !== 1) wasm.disposeData(aItem.dataId);
  return out;
}
