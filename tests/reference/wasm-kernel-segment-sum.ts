/**
 * Plain-TypeScript float64 reference for UnsortedSegmentSum (no TF.js), written segment by segment
 * rather than row by row like the kernel: out[s, j] = Σ_{i : ids[i] = s} x[i, j]; ids outside
 * [0, numSegments) contribute nowhere (TensorFlow's `unsorted_segment_sum`).
 */
export function referenceSegmentSum(
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  inner: number,
  numSegments: number,
): number[] {
  const out = new Array<number>(numSegments * inner).fill(0);
  for (let s = 0; s < numSegments; s++) {
    for (let j = 0; j < inner; j++) {
      let total = 0;
      for (let i = 0; i < ids.length; i++) if (ids[i] === s) total += x[i * inner + j] as number;
      out[s * inner + j] = total;
    }
  }
  return out;
}
