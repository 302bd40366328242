/**
 * Plain-TypeScript float64 reference for the self-check (no TF.js): Y = X·W, f = Σ tanh(Y)²,
 * ∂f/∂Y = 2·tanh(Y)·(1 − tanh(Y)²), ∂f/∂X = ∂f/∂Y·Wᵀ, ∂f/∂W = Xᵀ·∂f/∂Y.
 */
export interface Reference {
  product: number[];
  value: number;
  gradX: number[];
  gradW: number[];
}

export function referenceSelfCheck(
  m: number,
  k: number,
  n: number,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
): Reference {
  const at = (a: ArrayLike<number>, i: number): number => a[i] as number;
  const product = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(x, i * k + p) * at(w, p * n + j);
      product[i * n + j] = s;
    }
  let value = 0;
  const dY = product.map((y) => {
    const t = Math.tanh(y);
    value += t * t;
    return 2 * t * (1 - t * t);
  });
  const gradX = new Array<number>(m * k).fill(0);
  const gradW = new Array<number>(k * n).fill(0);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      const d = at(dY, i * n + j);
      for (let p = 0; p < k; p++) {
        gradX[i * k + p] = at(gradX, i * k + p) + d * at(w, p * n + j);
        gradW[p * n + j] = at(gradW, p * n + j) + at(x, i * k + p) * d;
      }
    }
  return { product, value, gradX, gradW };
}

/** Largest |a − b| / (|b| + 1e-3) over two arrays of the same length. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs((a[i] as number) - (b[i] as number)) / (Math.abs(b[i] as number) + 1e-3);
    worst = Math.max(worst, e);
  }
  return worst;
}
