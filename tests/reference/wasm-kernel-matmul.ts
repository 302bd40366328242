/**
 * Plain-TypeScript float64 reference for batched C = op(A)·op(B) (no TF.js), with op = transpose of
 * the last two axes when asked: C[b, i, j] = Σ_p op(A)[b, i, p]·op(B)[b, p, j]. A side with a batch
 * of 1 is shared by every batch item (the broadcasts the wasm kernel handles).
 */
export interface MatMulCase {
  readonly batchA: number;
  readonly batchB: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

export function referenceMatMul(
  c: MatMulCase,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number[] {
  const { m, k, n } = c;
  const batch = Math.max(c.batchA, c.batchB);
  // Element (i, p) of op(A) for batch item t, and (p, j) of op(B).
  const opA = (t: number, i: number, p: number): number => {
    const base = (c.batchA === 1 ? 0 : t) * m * k;
    return a[base + (c.transposeA ? p * m + i : i * k + p)] as number;
  };
  const opB = (t: number, p: number, j: number): number => {
    const base = (c.batchB === 1 ? 0 : t) * k * n;
    return b[base + (c.transposeB ? j * k + p : p * n + j)] as number;
  };
  const out = new Array<number>(batch * m * n).fill(0);
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += opA(t, i, p) * opB(t, p, j);
        out[(t * m + i) * n + j] = s;
      }
  return out;
}
