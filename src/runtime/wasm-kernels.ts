/**
 * Kernels the TF.js wasm backend (4.22) lacks or gets wrong for training, registered for 'wasm'.
 *
 * Found by running the forward and the gradient of every op the model uses on wasm and on cpu
 * (tests/unit/wasm-kernels.test.ts):
 *   - UnsortedSegmentSum: missing. It is the gradient of `tf.gather`, so no embedding gets a
 *     gradient on wasm without it.
 *   - Cast to bool: wrong. Values wrap modulo 256 instead of testing x ≠ 0: every value in (−1, 1)
 *     becomes false, 256 becomes false, −1 becomes 255 (so a sum of bools miscounts). 0/1 masks
 *     happen to survive.
 *   - BatchMatMul: right, but 3–20× slower than it can be for transposed or batched operands, which
 *     are most of the products of a forward and backward pass (see wasm-kernels/batch-mat-mul.ts).
 *   - Identity: right, but it copies; gradients save their inputs through it, so every weight was
 *     copied each training step (see wasm-kernels/identity.ts).
 *   - Slice, SplitV: right, but each copies its whole input out of the heap before taking the
 *     slice (see wasm-kernels/slice.ts).
 * Each is a TypeScript kernel over the wasm heap; the two that wrap the package's kernel keep its
 * `setupFunc`, which TF.js runs again on every `setBackend('wasm')`.
 *
 * Nothing runs at import; the engine calls `registerWasmKernels()` once, before or after the
 * backend starts. Leaves the choice of backend to `runtime/backend`.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm'; // registers the package's kernels first, so ours replace them
import { makeBatchMatMul, BATCH_MAT_MUL } from './wasm-kernels/batch-mat-mul';
import { makeCast, CAST } from './wasm-kernels/cast';
import { makeIdentity, IDENTITY } from './wasm-kernels/identity';
import { makeSlice, makeSplitV, SLICE, SPLIT_V } from './wasm-kernels/slice';
import { unsortedSegmentSum, UNSORTED_SEGMENT_SUM } from './wasm-kernels/unsorted-segment-sum';

const BACKEND = 'wasm';

interface KernelSpec {
  readonly name: string;
  /** Builds our kernel from the package's (undefined when the package has none). */
  readonly build: (original: tf.KernelFunc | undefined) => tf.KernelFunc | null;
}

const SPECS: readonly KernelSpec[] = [
  // A later package that ships its own UnsortedSegmentSum keeps it.
  { name: UNSORTED_SEGMENT_SUM, build: (original) => (original ? null : unsortedSegmentSum) },
  { name: CAST, build: (original) => makeCast(required(CAST, original)) },
  { name: BATCH_MAT_MUL, build: (original) => makeBatchMatMul(required(BATCH_MAT_MUL, original)) },
  { name: IDENTITY, build: (original) => makeIdentity(required(IDENTITY, original)) },
  { name: SLICE, build: (original) => makeSlice(required(SLICE, original)) },
  { name: SPLIT_V, build: (original) => makeSplitV(required(SPLIT_V, original)) },
];

/** Kernel name → the kernelFunc this module registered for it. */
const ours = new Map<string, tf.KernelFunc>();

/**
 * Registers this module's wasm kernels (idempotent: a second call changes nothing). Returns the
 * names of the kernels this module provides on wasm, whether this call or an earlier one
 * registered them.
 */
export function registerWasmKernels(): string[] {
  for (const spec of SPECS) {
    const current = findKernel(spec.name);
    if (current && ours.get(spec.name) === current.kernelFunc) continue;
    const kernelFunc = spec.build(current?.kernelFunc);
    if (!kernelFunc) continue;
    if (current) tf.unregisterKernel(spec.name, BACKEND);
    tf.registerKernel({ ...current, kernelName: spec.name, backendName: BACKEND, kernelFunc });
    ours.set(spec.name, kernelFunc);
  }
  return SPECS.map((s) => s.name).filter((name) => ours.get(name) === findKernel(name)?.kernelFunc);
}

function findKernel(name: string): tf.KernelConfig | undefined {
  return tf.getKernel(name, BACKEND) as tf.KernelConfig | undefined;
}

function required(name: string, original: tf.KernelFunc | undefined): tf.KernelFunc {
  if (original) return original;
  throw new Error(
    `The wasm backend has no '${name}' kernel to wrap; import '@tensorflow/tfjs-backend-wasm' ` +
      `(4.22) before calling registerWasmKernels().`,
  );
}
