/**
 * UnsortedSegmentSum for the wasm backend, which does not have it in TF.js 4.22. Autodiff needs it:
 * it is the gradient of `tf.gather` (the embedding lookup), so without it no gradient reaches an
 * embedding table on wasm.
 *
 *   out[s, j] = Σ_{i : ids[i] = s} x[i, j],   out: [numSegments, ...x.shape[ids.rank:]]
 *
 * (TensorFlow's `tf.math.unsorted_segment_sum`: segments no id names are zero; ids outside
 * [0, numSegments) are dropped.) One pass over x, O(|x| + numSegments·inner), against the cpu
 * backend's loop of one masked reduction per segment, O(numSegments·|x|). Accumulates in the
 * output's own precision (float32), in row order.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../../errors/loops-errors';
import { asWasmBackend } from './wasm-heap';

export const UNSORTED_SEGMENT_SUM = 'UnsortedSegmentSum';

/** Adds row i of `x` ([rows, inner]) into row ids[i] of `out` ([numSegments, inner]), in place. */
export function scatterAddRows(
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  inner: number,
  numSegments: number,
  out: { [i: number]: number },
): void {
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i] as number;
    if (!Number.isInteger(s) || s < 0 || s >= numSegments) continue;
    const from = i * inner;
    const to = s * inner;
    for (let j = 0; j < inner; j++) out[to + j] = (out[to + j] as number) + (x[from + j] as number);
  }
}

export const unsortedSegmentSum: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = asWasmBackend(backend, UNSORTED_SEGMENT_SUM);
  const x = inputs.x as tf.TensorInfo;
  const ids = inputs.segmentIds as tf.TensorInfo;
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  checkArguments(x, ids, numSegments);
  const innerShape = x.shape.slice(ids.shape.length);
  const out = wasm.makeOutput([numSegments, ...innerShape], x.dtype); // [S, ...inner]
  const outValues = wasm.typedArrayFromHeap(out);
  outValues.fill(0); // malloc'd memory is not zeroed
  scatterAddRows(
    wasm.typedArrayFromHeap(x),
    wasm.typedArrayFromHeap(ids),
    tf.util.sizeFromShape(innerShape),
    numSegments,
    outValues,
  );
  return out;
};

function checkArguments(x: tf.TensorInfo, ids: tf.TensorInfo, numSegments: number): void {
  const prefix = x.shape.slice(0, ids.shape.length);
  if (ids.shape.length > x.shape.length || prefix.some((d, i) => d !== ids.shape[i])) {
    throw new ValidationError(
      `unsortedSegmentSum: segmentIds has shape [${ids.shape.join(', ')}], which is not a prefix ` +
        `of x's shape [${x.shape.join(', ')}]; give one id per leading slice of x.`,
    );
  }
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new ValidationError(
      `unsortedSegmentSum: numSegments is ${numSegments}; it must be a non-negative integer.`,
    );
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new ValidationError(
      `unsortedSegmentSum: x has dtype ${x.dtype}; cast it to float32 or int32 first.`,
    );
  }
}
