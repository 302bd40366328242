/**
 * C = A·B for a long inner dimension K, as a sum over blocks of K (wasm, through XNNPACK).
 *
 * XNNPACK's GEMM runs each tile of C over the whole of K, reading a tile's rows of A and its packed
 * panel of B from memory every time: with K = 49,152 (the unembedding's ∂h = ∂logits·W, A a chunk
 * of [170, 49152] logits) a tile streams ~2.7 MB for 4.7 MFLOP and the product ran at 13 GFLOP/s
 * on one thread in a Chromium profile of a SmolLM2 8×256 step, where 1024³ products ran at 28–36.
 * Over blocks of K_BLOCK columns of A and rows of B, a block of A and B's panels stay in cache:
 *
 *   C = Σ_b A[:, b]·B[b, :]     (B's rows b are contiguous in the heap: an alias, no copy)
 *
 * A's column block is copied row by row (rows·K_BLOCK elements a block, all of A once in total);
 * the partial products are summed into C in float32 (the order of the sum over K changes, the
 * result agrees with the single product to float32 rounding).
 */
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { addInto, aliasOf, copyElements, releaseAlias } from './wasm-heap';

/** Inner dimensions from this size are summed over blocks. */
export const SPLIT_K_MIN = 1 << 14;

/** Columns of A (rows of B) a block. */
export const K_BLOCK = 1 << 12;

/** Whether C = A·B ([M, K]·[K, N], neither transposed) is summed over blocks of K. */
export function splitsK(k: number): boolean {
  return k >= SPLIT_K_MIN;
}

/**
 * A [rows, K] · B [K, N] (row-major, untransposed; any leading shape of A folded into rows) summed
 * over blocks of K; `product` computes one untransposed [1, r, k]·[1, k, n] product. Returns a new
 * [1, rows, N] tensor.
 */
export function splitKProduct(
  backend: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  rows: number,
  k: number,
  n: number,
  product: (x: tf.TensorInfo, y: tf.TensorInfo) => tf.TensorInfo,
): tf.TensorInfo {
  const out = backend.makeOutput([1, rows, n], 'float32');
  let aBlock: tf.TensorInfo | null = null;
  try {
    for (let k0 = 0; k0 < k; k0 += K_BLOCK) {
      const kb = Math.min(K_BLOCK, k - k0);
      if (!aBlock || aBlock.shape[2] !== kb) {
        if (aBlock) backend.disposeData(aBlock.dataId);
        aBlock = backend.makeOutput([1, rows, kb], 'float32');
      }
      for (let r = 0; r < rows; r++) copyElements(backend, a, r * k + k0, aBlock, r * kb, kb);
      const bBlock = aliasOf(backend, b, k0 * n, [1, kb, n]);
      let partial: tf.TensorInfo;
      try {
        partial = product(aBlock, bBlock);
      } finally {
        releaseAlias(backend, bBlock);
      }
      const sum = backend.typedArrayFromHeap(out) as Float32Array; // views after every allocation
      const add = backend.typedArrayFromHeap(partial) as Float32Array;
      if (k0 === 0) sum.set(add);
      else addInto(sum, 0, add);
      backend.disposeData(partial.dataId);
    }
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  } finally {
    if (aBlock) backend.disposeData(aBlock.dataId);
  }
  return out;
}
