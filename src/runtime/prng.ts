/**
 * A small seeded PRNG for initialisation (mulberry32: 32-bit state, period 2³², good enough for
 * weight init and fixtures; not for cryptography). Same seed ⇒ same stream on every platform.
 */
export function createRng(seed: number): () => number {
  let s = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
