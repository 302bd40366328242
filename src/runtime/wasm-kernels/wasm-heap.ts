/**
 * Access to tensors of the TF.js wasm backend from kernels written in TypeScript.
 *
 * A wasm tensor is a region of the module's linear memory at `dataIdMap.get(dataId).memoryOffset`.
 * Any allocation (`makeOutput`) may grow that memory, which detaches every view taken before it:
 * kernels here allocate first and take views (or copy) afterwards. Leaves the kernels themselves
 * to the files beside this one.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The backend a kernel was called with, checked to be the wasm one. */
export function asWasmBackend(backend: unknown, kernelName: string): BackendWasm {
  const b = backend as Partial<BackendWasm> | null;
  if (!b || typeof b.makeOutput !== 'function' || !b.dataIdMap || !b.wasm) {
    throw new Error(
      `${kernelName}: this kernel is registered for the wasm backend but was called with another ` +
        `backend; register it only with backendName 'wasm'.`,
    );
  }
  return b as BackendWasm;
}

/** Byte offset of a tensor's data in the wasm heap. */
function byteOffset(backend: BackendWasm, info: tf.TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (!data)
    throw new Error(`wasm tensor ${String(info.dataId)} was disposed before a kernel read it`);
  return data.memoryOffset;
}

const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1 };

/**
 * Copies `count` elements from `src` (starting at element `srcStart`) into `dst` (at element
 * `dstStart`); both tensors must have the same dtype. One `memmove` inside the heap.
 */
export function copyElements(
  backend: BackendWasm,
  src: tf.TensorInfo,
  srcStart: number,
  dst: tf.TensorInfo,
  dstStart: number,
  count: number,
): void {
  const bytes = BYTES[src.dtype];
  if (bytes === undefined || src.dtype !== dst.dtype) {
    throw new Error(`copyElements: cannot copy ${src.dtype} into ${dst.dtype} on the wasm heap`);
  }
  const from = byteOffset(backend, src) + srcStart * bytes;
  const to = byteOffset(backend, dst) + dstStart * bytes;
  heapBytes(backend).copyWithin(to, from, from + count * bytes);
}

/**
 * The whole heap as bytes, read afresh on each call (growth replaces it). The package's module type
 * extends Emscripten's global `EmscriptenModule`, which this project's tsconfig does not load.
 */
function heapBytes(backend: BackendWasm): Uint8Array {
  return (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
}

/** A TensorInfo for the same data under another shape of the same size (no copy, no new ref). */
export function withShape(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, dtype: info.dtype, shape };
}

/**
 * A second tensor id over `info`'s buffer (no copy, no new reference), for one kernel call; over
 * `shape`'s elements from `elementOffset` when given (a run of whole rows, say). The
 * package's BatchMatMul keeps an XNNPACK operator, with a packed copy of B as large as B, cached
 * on B's id until that id is disposed; called with a frozen weight as B (∂x = ∂y·W in every
 * backward pass) that is one more copy of every weight held for good, the whole model's size
 * again in the 4 GiB heap. Under a transient id the copy goes with `releaseAlias`.
 */
export function aliasOf(
  backend: BackendWasm,
  info: tf.TensorInfo,
  elementOffset = 0,
  shape: readonly number[] = info.shape,
): tf.TensorInfo {
  const bytes = BYTES[info.dtype] ?? 4;
  const end = elementOffset + tf.util.sizeFromShape([...shape]);
  if (elementOffset < 0 || end > tf.util.sizeFromShape(info.shape)) {
    throw new Error(
      `aliasOf: elements [${elementOffset}, ${end}) lie outside a ${info.shape} tensor`,
    );
  }
  return backend.makeOutput(
    [...shape],
    info.dtype,
    byteOffset(backend, info) + elementOffset * bytes,
  );
}

/** Forgets an `aliasOf` id and what the package cached on it; the buffer stays its owner's. */
export function releaseAlias(backend: BackendWasm, alias: tf.TensorInfo): void {
  const data = backend.dataIdMap.get(alias.dataId);
  if (!data) return;
  backend.wasm.tfjs.disposeData(data.id); // runs the package's disposal callbacks (operators)
  backend.dataIdMap.delete(alias.dataId);
}

/** dst[offset + i] += src[i] for every i of `src`. */
export function addInto(dst: Float32Array, offset: number, src: Float32Array): void {
  for (let i = 0; i < src.length; i++) dst[offset + i] = (dst[offset + i] as number) + src[i]!;
}

/** Edge of the square tiles `transposeLastTwo` copies through (32 × 32 floats: 4 KiB a tile). */
const TILE = 32;

/**
 * Elements from which `transposeLastTwo` copies through tiles (4 MiB of float32, past a core's
 * cache); smaller ones keep the package's kernel. In Node the tiles were faster from [256, 576] up
 * (0.42 against 0.62 ms), but in a Chromium profile of a SmolLM2 step with the tiles everywhere
 * the layers' swapped products (transposes of [256, 576] and [1536, 256]) took 7–18% longer.
 */
export const TILED_MIN_ELEMENTS = 1 << 20;

/**
 * Rows of x up to which the package's Transpose stays fast at any size: for each output row it
 * reads one element of every input row, so with few input rows the lines it reads stay in cache
 * for the next output row. Measured in Node: [170, 49152] → [49152, 170] 20 ms by the package,
 * 40 ms through the tiles.
 */
export const STRIDED_ROWS_MAX = 512;

/**
 * x with its last two axes swapped, as a new wasm tensor the caller disposes. A large float32 x
 * goes through square tiles, so reads and writes both stay within a few cache lines: the
 * package's Transpose walks the output in order and the input with a stride of a whole row, which
 * for a chunk of logits ([49152, 170] → [170, 49152], 33 MB) took 166 ms in Node, a third of the
 * product it followed, on one thread whatever the backend's threads.
 */
export function transposeLastTwo(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const small = tf.util.sizeFromShape(x.shape) < TILED_MIN_ELEMENTS;
  if (x.dtype !== 'float32' || small || (x.shape[rank - 2] as number) <= STRIDED_ROWS_MAX) {
    const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
    const transpose = tf.getKernel('Transpose', 'wasm').kernelFunc;
    return transpose({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
  }
  const rows = x.shape[rank - 2] as number;
  const cols = x.shape[rank - 1] as number;
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], 'float32');
  const src = backend.typedArrayFromHeap(x) as Float32Array; // views after the allocation
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  transposeTiles(src, dst, src.length / (rows * cols), rows, cols);
  return out;
}

/** dst[b][j][i] = src[b][i][j] for `batch` row-major [rows, cols] matrices, tile by tile. */
export function transposeTiles(
  src: Float32Array,
  dst: Float32Array,
  batch: number,
  rows: number,
  cols: number,
): void {
  for (let b = 0, base = 0; b < batch; b++, base += rows * cols) {
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, rows);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, cols);
        for (let i = i0; i < i1; i++) {
          const from = base + i * cols;
          for (let j = j0; j < j1; j++) dst[base + j * rows + i] = src[from + j]!;
        }
      }
    }
  }
}
