/**
 * What a benchmark can read of the backend's memory, and what each reading means.
 * - `tf.memory().numBytes` sums the bytes of every live tensor, counting a clone again even where
 *   the backend shares its buffer (the cpu backend's Identity does; wasm's copies), so on cpu it
 *   can overstate what is allocated, and on wasm it is what is allocated.
 * - The wasm heap is the module's linear memory: it grows when the allocator needs more and never
 *   shrinks, so its size is the high-water mark of everything run so far in this process (tensors,
 *   allocator slack and fragmentation included), at most 4 GiB (wasm32).
 */
import * as tf from '@tensorflow/tfjs';

export interface TensorMemory {
  readonly numTensors: number;
  readonly numBytes: number;
}

/** Live tensors and their bytes, now. */
export function tensorMemory(): TensorMemory {
  const { numTensors, numBytes } = tf.memory();
  return { numTensors, numBytes };
}

/** The wasm backend's heap size in bytes, or null when another backend is active. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.byteLength ?? null;
}
