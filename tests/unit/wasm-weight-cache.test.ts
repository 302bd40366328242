// The package's BatchMatMul caches an XNNPACK operator, holding a packed copy of B as large as B,
// on B's tensor id until B is disposed. A frozen weight used as B (∂x = ∂y·W in every backward
// pass) then costs its size twice in the 4 GiB wasm heap for as long as the model lives. Our
// kernel hands large B to XNNPACK under a transient id (runtime/wasm-kernels/wasm-heap.ts), so the
// packed copy is freed after each product. Own file: the heap's growth is measured from a fresh
// wasm module (vitest runs each file in its own process).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { registerWasmKernels } from '../../src/runtime/wasm-kernels';
import { UNCACHED_B_MIN_BYTES } from '../../src/runtime/wasm-kernels/batch-mat-mul';

const MIB = 2 ** 20;

function heapBytes(): number {
  const { wasm } = tf.backend() as unknown as BackendWasm;
  return (wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.length;
}

describe('large B in a wasm product', () => {
  it('is not kept packed by XNNPACK while it lives', async () => {
    registerWasmKernels();
    await tf.setBackend('wasm');
    const n = 2048; // each B: 2048² float32 = 16 MiB
    const count = 6;
    const weights = 16 * MIB * count; // 96 MiB of live B
    expect(16 * MIB).toBeGreaterThanOrEqual(UNCACHED_B_MIN_BYTES);
    const before = heapBytes();
    const bs = Array.from({ length: count }, () => tf.fill([n, n], 0.5)); // [K, N] each
    const x = tf.ones([4, n]); // [M, K]
    for (const b of bs) {
      const y = tf.matMul(x, b); // [4, N]: A·B, B untransposed → XNNPACK with B as its weights
      expect((await y.data())[0]).toBe(0.5 * n);
      y.dispose();
    }
    const growth = heapBytes() - before;
    // Without the cache: 96 MiB of B, one transient 16 MiB packed copy, small x and y, and
    // Emscripten's over-growth of at most 20% of the heap: below 1.5 × 96 MiB. With it, six packed
    // copies stay: at least 2 × 96 MiB.
    console.log(`heap growth ${(growth / MIB).toFixed(0)} MiB for ${weights / MIB} MiB of B`);
    expect(growth).toBeLessThan(1.5 * weights);
    tf.dispose([...bs, x]);
  });
});
