/**
 * Slice and SplitV on wasm, copying only the slice.
 *
 * The package's Slice starts with `backend.readSync(x)`, which copies the whole input out of the
 * heap into a new JavaScript buffer, then copies the slice from that copy. A checkpointed block
 * slices one sequence [1, T, C] out of the batch's [B, T, C] activations, so each slice copied B
 * times the bytes it needed (and left a buffer of B·T·C floats for the garbage collector); its
 * SplitV (RoPE's halves, a fused qkv) slices the same way once per part. Profiled on SmolLM2-135M's
 * shape at 8×256 in Chromium (2 threads), the package's Slice took 1.9 s of a 45 s step, 2.1 ms
 * per [1, 256, 576] slice, single-threaded.
 *
 * Here the slice is copied straight from heap to heap: the trailing dimensions the slice covers
 * whole form one contiguous run per index of the others, copied with `TypedArray.set` (runs of
 * fewer than SHORT_RUN elements element by element). Strings, which live outside the heap, stay on
 * the package's kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { asWasmBackend } from './wasm-heap';

export const SLICE = 'Slice';
export const SPLIT_V = 'SplitV';

/** Runs shorter than this are copied element by element (a `set` call costs more). */
const SHORT_RUN = 16;

type Values = Float32Array | Int32Array | Uint8Array;

export function makeSlice(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return original(args);
    const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
    return sliceOnHeap(asWasmBackend(args.backend, SLICE), x, begin, size);
  };
}

export function makeSplitV(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return original(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
    const wasm = asWasmBackend(args.backend, SPLIT_V);
    const dim = tf.util.parseAxisParam(axis, x.shape)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, dim);
    const begin = x.shape.map(() => 0);
    return sizes.map((part) => {
      const size = x.shape.map((n, d) => (d === dim ? part : n));
      const out = sliceOnHeap(wasm, x, begin, size);
      begin[dim] = (begin[dim] as number) + part;
      return out;
    });
  };
}

/** x[begin : begin + size] (TF.js slice conventions: size −1 runs to the end) as a new tensor. */
export function sliceOnHeap(
  wasm: BackendWasm,
  x: tf.TensorInfo,
  begin: number | number[],
  size?: number | number[],
): tf.TensorInfo {
  const [from, shape] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size) as [
    number[],
    number[],
  ];
  const out = wasm.makeOutput(shape, x.dtype);
  if (tf.util.sizeFromShape(shape) === 0) return out;
  // Views after the allocation, which may have grown the heap.
  const src = wasm.typedArrayFromHeap(x) as Values;
  const dst = wasm.typedArrayFromHeap(out) as Values;
  copyBox(src, x.shape, from, shape, dst);
  return out;
}

/**
 * dst ← the box of `src` (row-major, shape `shape`) at `from` of extent `extent`, row-major.
 * Exported for its test.
 */
export function copyBox(
  src: Values,
  shape: readonly number[],
  from: readonly number[],
  extent: readonly number[],
  dst: Values,
): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0] as number;
    return;
  }
  const strides = tf.util.computeStrides(shape as number[]); // rank − 1 entries
  const stride = (d: number) => (d === rank - 1 ? 1 : (strides[d] as number));
  // Dimensions inner..rank−1 are one contiguous run: every one after `inner` is taken whole.
  let inner = rank - 1;
  while (inner > 0 && extent[inner] === shape[inner]) inner--;
  const run = extent.slice(inner).reduce((a, b) => a * b, 1);
  const outer = extent.slice(0, inner);
  const index = outer.map(() => 0);
  const count = outer.reduce((a, b) => a * b, 1);
  for (let i = 0, o = 0; i < count; i++, o += run) {
    let s = (from[inner] as number) * stride(inner);
    for (let d = 0; d < inner; d++) s += ((from[d] as number) + (index[d] as number)) * stride(d);
    if (run >= SHORT_RUN) dst.set(src.subarray(s, s + run), o);
    else for (let j = 0; j < run; j++) dst[o + j] = src[s + j] as number;
    for (let d = inner - 1; d >= 0; d--) {
      index[d] = (index[d] as number) + 1;
      if ((index[d] as number) < (outer[d] as number)) break;
      index[d] = 0;
    }
  }
}
