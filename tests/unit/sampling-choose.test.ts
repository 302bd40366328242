import { describe, expect, it } from 'vitest';
import { seededArray } from '../helpers/seeded';
import { chooseToken, keptTokenIds } from '../../src/sampling/choose-token';
import type { TokenChoiceParams } from '../../src/core/sampling-params';
import { seedWords, streamRng } from '../../src/sampling/rng';
import type { Rng } from '../../src/sampling/rng';

const plain: TokenChoiceParams = { temperature: 1, topK: -1, topP: 1 };

/** An rng that fails the test if it is drawn from. */
const noDraws: Rng = {
  nextUint32: () => {
    throw new Error('drew from the rng');
  },
  nextFloat: () => {
    throw new Error('drew from the rng');
  },
};

/** Independent reference: log_softmax in float64, written out directly. */
function logSoftmax(logits: ArrayLike<number>): number[] {
  const xs = Array.from(logits);
  const m = Math.max(...xs);
  const lse = m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
  return xs.map((x) => x - lse);
}

/** Frequencies of `n` draws. */
function frequencies(logits: Float32Array, params: TokenChoiceParams, n: number, seed = 1234) {
  const rng = streamRng(seedWords(seed), 0);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) {
    const { token } = chooseToken(logits, params, rng);
    counts[token] = (counts[token] ?? 0) + 1;
  }
  return counts.map((c) => c / n);
}

// For n = 20 000 draws a frequency has binomial σ = sqrt(p(1−p)/n) ≤ sqrt(0.25/20000) = 0.0035;
// 0.015 is just over 4σ at the worst case p = 1/2.
const N_DRAWS = 20_000;
const FREQ_TOL = 0.015;

describe('chooseToken', () => {
  it('is argmax at temperature 0, lowest id on ties, with no draw', () => {
    const logits = new Float32Array([0.1, 2, 2, -1]);
    expect(chooseToken(logits, { ...plain, temperature: 0 }, noDraws).token).toBe(1);
    expect(Array.from(keptTokenIds(logits, { ...plain, temperature: 0 }))).toEqual([1]);
  });

  it('reports log_softmax of the raw logits, whatever the sampling settings', () => {
    const logits = new Float32Array([1, 2, 3, 4]);
    const ref = logSoftmax(logits);
    const rng = streamRng(seedWords(3), 0);
    for (const params of [
      { ...plain, temperature: 0 },
      { ...plain, temperature: 0.5, topK: 2 },
      { ...plain, temperature: 2, topP: 0.5 },
      plain,
    ]) {
      const { token, logprob } = chooseToken(logits, params, rng);
      expect(logprob).toBeCloseTo(ref[token] as number, 12);
    }
  });

  it('samples softmax(logits / T)', () => {
    const logits = new Float32Array([1.0, 0.5, -0.2, 0.3]);
    const T = 0.7;
    const expected = logSoftmax(Array.from(logits, (l) => l / T)).map(Math.exp);
    const freq = frequencies(logits, { ...plain, temperature: T }, N_DRAWS);
    freq.forEach((f, i) => expect(Math.abs(f - (expected[i] as number))).toBeLessThan(FREQ_TOL));
  });

  it('equals greedy with top_k = 1', () => {
    const rng = streamRng(seedWords(5), 0);
    for (let row = 0; row < 50; row++) {
      // Rounded to quarters so that ties occur.
      const logits = seededArray(32, row + 1, 4).map((x) => Math.round(x * 4) / 4);
      const greedy = chooseToken(logits, { ...plain, temperature: 0 }, noDraws).token;
      expect(chooseToken(logits, { ...plain, topK: 1 }, rng).token).toBe(greedy);
    }
  });

  it('never draws a -Infinity logit and stays finite for large logits', () => {
    const masked = new Float32Array([-Infinity, 0, -Infinity, 0]);
    const freq = frequencies(masked, plain, 2000);
    expect(freq[0]).toBe(0);
    expect(freq[2]).toBe(0);
    expect(chooseToken(masked, plain, streamRng(seedWords(1), 0)).logprob).toBeCloseTo(
      Math.log(0.5),
      12,
    );
    // log_softmax([1000, 999])[0] = −log(1 + e^−1).
    const big = new Float32Array([1000, 999]);
    const { logprob } = chooseToken(big, { ...plain, temperature: 0 }, noDraws);
    expect(logprob).toBeCloseTo(-Math.log(1 + Math.exp(-1)), 12);
  });

  it('is argmax-like at a tiny temperature', () => {
    const logits = new Float32Array([0.3, 0.31, 0.2]);
    const freq = frequencies(logits, { ...plain, temperature: 1e-30 }, 200);
    expect(freq).toEqual([0, 1, 0]);
  });

  it('rejects NaN, +Infinity and all-masked rows', () => {
    expect(() => chooseToken(new Float32Array([0, NaN]), plain, noDraws)).toThrow(
      /logit 1 of 2 is NaN/,
    );
    expect(() => chooseToken(new Float32Array([Infinity, 0]), plain, noDraws)).toThrow(
      /logit 0 of 2 is Infinity/,
    );
    expect(() => chooseToken(new Float32Array([-Infinity]), plain, noDraws)).toThrow(
      /all 1 logits are -Infinity/,
    );
  });
});

describe('top-k', () => {
  it('keeps the k largest, lower id first on ties', () => {
    const logits = new Float32Array([1, 3, 3, 3, 0]);
    expect(Array.from(keptTokenIds(logits, { ...plain, topK: 2 }))).toEqual([1, 2]);
    expect(Array.from(keptTokenIds(logits, { ...plain, topK: 4 }))).toEqual([0, 1, 2, 3]);
  });

  it('matches a full sort on random rows with ties', () => {
    for (let row = 0; row < 20; row++) {
      const logits = seededArray(300, 100 + row, 4).map((x) => Math.round(x * 8) / 8);
      for (const k of [1, 7, 64, 299]) {
        // Reference: sort every id by (logit desc, id asc) and take k.
        const ref = Array.from(logits.keys())
          .sort((a, b) => (logits[b] as number) - (logits[a] as number) || a - b)
          .slice(0, k)
          .sort((a, b) => a - b);
        expect(Array.from(keptTokenIds(logits, { ...plain, topK: k }))).toEqual(ref);
      }
    }
  });
});

describe('top-p', () => {
  // Probabilities by id: [0.15, 0.5, 0.05, 0.3]. In descending order: id1 0.5, id3 0.3,
  // id0 0.15, id2 0.05; cumulative 0.5, 0.8, 0.95, 1.0. The nucleus is the shortest prefix
  // whose sum reaches top_p: 0.4 → {1}; 0.6 or 0.75 → {1, 3}; 0.85 → {0, 1, 3}; 0.96 → all.
  const probs = [0.15, 0.5, 0.05, 0.3];
  const logits = new Float32Array(probs.map(Math.log));

  it('keeps exactly the nucleus', () => {
    const kept = (topP: number) => Array.from(keptTokenIds(logits, { ...plain, topP }));
    expect(kept(0.4)).toEqual([1]);
    expect(kept(0.6)).toEqual([1, 3]);
    expect(kept(0.75)).toEqual([1, 3]);
    expect(kept(0.85)).toEqual([0, 1, 3]);
    expect(kept(0.96)).toEqual([0, 1, 2, 3]);
  });

  it('breaks ties at the nucleus edge by lower id', () => {
    // Four equal weights, total 4: top_p 0.5 needs weight 2 = two tokens, top_p 0.6 needs 2.4 =
    // three; the lowest ids among the tied ones are taken.
    const flat = new Float32Array([0, 0, 0, 0]);
    expect(Array.from(keptTokenIds(flat, { ...plain, topP: 0.5 }))).toEqual([0, 1]);
    expect(Array.from(keptTokenIds(flat, { ...plain, topP: 0.6 }))).toEqual([0, 1, 2]);
    // Weights ∝ [1, 2, 1, 1, 2], total 7, top_p 0.6 needs 4.2: ids 1 and 4 give 4, then the
    // lowest of the tied ids 0, 2, 3.
    const mixed = new Float32Array([0, Math.LN2, 0, 0, Math.LN2]);
    expect(Array.from(keptTokenIds(mixed, { ...plain, topP: 0.6 }))).toEqual([0, 1, 4]);
  });

  it('samples the nucleus renormalised', () => {
    // {1, 3} renormalised: 0.5/0.8 = 0.625 and 0.3/0.8 = 0.375.
    const freq = frequencies(logits, { ...plain, topP: 0.75 }, N_DRAWS);
    expect(freq[0]).toBe(0);
    expect(freq[2]).toBe(0);
    expect(Math.abs((freq[1] as number) - 0.625)).toBeLessThan(FREQ_TOL);
    expect(Math.abs((freq[3] as number) - 0.375)).toBeLessThan(FREQ_TOL);
  });

  it('applies after top-k and after temperature', () => {
    // top_k = 2 keeps {1, 3}, renormalised to 0.625 / 0.375; 0.625 ≥ 0.6 already → {1}.
    expect(Array.from(keptTokenIds(logits, { ...plain, topK: 2, topP: 0.6 }))).toEqual([1]);
    // T = 2 gives p ∝ sqrt(p): sqrt([.15, .5, .05, .3]) = [.3873, .7071, .2236, .5477], sum
    // 1.8657 → [.2076, .3790, .1199, .2936]; descending cumulative .379, .673, .880 → top_p .75
    // keeps {0, 1, 3} where T = 1 kept {1, 3}.
    expect(Array.from(keptTokenIds(logits, { ...plain, temperature: 2, topP: 0.75 }))).toEqual([
      0, 1, 3,
    ]);
  });

  it('matches a full sort on a wide random row', () => {
    const wide = seededArray(2000, 77, 12);
    for (const topP of [0.1, 0.5, 0.9, 0.99]) {
      // Reference: softmax, sort all by (prob desc, id asc), take the shortest prefix ≥ topP.
      const p = logSoftmax(wide).map(Math.exp);
      const order = Array.from(wide.keys()).sort(
        (a, b) => (p[b] as number) - (p[a] as number) || a - b,
      );
      let cum = 0;
      let n = 0;
      while (cum < topP) cum += p[order[n++] as number] as number;
      const ref = order.slice(0, n).sort((a, b) => a - b);
      expect(Array.from(keptTokenIds(wide, { ...plain, topP }))).toEqual(ref);
    }
  });
});
