/** Deterministic numbers in [-scale/2, scale/2) from an LCG, for fixtures (no dependencies). */
export function seededArray(n: number, seed: number, scale = 0.8): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * scale;
  }
  return out;
}
