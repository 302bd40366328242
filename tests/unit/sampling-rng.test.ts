import { describe, expect, it } from 'vitest';
import { Xoshiro128, seedWords, streamRng } from '../../src/sampling/rng';

function draws(rng: { nextUint32(): number }, n: number): number[] {
  return Array.from({ length: n }, () => rng.nextUint32());
}

describe('xoshiro128**', () => {
  it('follows the published recurrence', () => {
    // By hand from state (1, 2, 3, 4), out = rotl(s1·5, 7)·9, then the state update:
    //   out1 = rotl(10, 7)·9 = 1280·9 = 11520; state → (7, 0, 1026, 12288)
    //   out2 = rotl(0, 7)·9 = 0;               state → (12295, 1029, 1029, 25165824)
    //   out3 = rotl(5145, 7)·9 = 658560·9 = 5927040
    expect(draws(new Xoshiro128([1, 2, 3, 4]), 3)).toEqual([11520, 0, 5927040]);
  });

  it('rejects the all-zero state', () => {
    expect(() => new Xoshiro128([0, 0, 0, 0])).toThrow(/all zero/);
  });

  it('gives floats in [0, 1) with mean 1/2', () => {
    const rng = streamRng(seedWords(42), 0);
    const n = 100_000;
    let sum = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const u = rng.nextFloat();
      sum += u;
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    // U(0,1) has variance 1/12, so the mean of n draws has σ = sqrt(1/(12n)) ≈ 0.000913; 4σ.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(4 * Math.sqrt(1 / (12 * n)));
  });
});

describe('seeds and streams', () => {
  it("split an integer seed into two's-complement words", () => {
    expect(seedWords(5)).toEqual([5, 0]);
    expect(seedWords(2 ** 32 + 7)).toEqual([7, 1]);
    expect(seedWords(-1)).toEqual([0xffffffff, 0xffffffff]); // −1 = 2^64 − 1 (mod 2^64)
    expect(seedWords(2 ** 53)).toEqual([0, 2 ** 21]);
    expect(() => seedWords(1.5)).toThrow(/not an integer/);
  });

  it('repeat for the same (seed, stream) and differ otherwise', () => {
    const a = draws(streamRng(seedWords(7), 3), 8);
    expect(draws(streamRng(seedWords(7), 3), 8)).toEqual(a);
    expect(draws(streamRng(seedWords(7), 4), 8)).not.toEqual(a);
    expect(draws(streamRng(seedWords(8), 3), 8)).not.toEqual(a);
    // Seeds that differ only in the high word still give different streams.
    expect(draws(streamRng(seedWords(7 + 2 ** 32), 3), 8)).not.toEqual(a);
  });

  it('draw a fresh random seed when none is given', () => {
    // Two 64-bit draws from crypto.getRandomValues collide with probability 2^-64.
    expect(seedWords(null)).not.toEqual(seedWords(null));
  });
});
