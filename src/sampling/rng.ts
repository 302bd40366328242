/**
 * The sampler's random numbers: xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom
 * number generators", ACM TOMS 2021; https://prng.di.unimi.it/), 128 bits of state in four 32-bit
 * words, so it runs on plain 32-bit integer ops (Math.imul, >>>) with no BigInt.
 *
 *   out = rotl(s1 · 5, 7) · 9
 *   t = s1 << 9;  s2 ^= s0;  s3 ^= s1;  s1 ^= s2;  s0 ^= s3;  s2 ^= t;  s3 = rotl(s3, 11)
 *
 * Streams: sequence i of a batch draws from its own generator whose state is a hash of
 * (seed, i), so a sequence's tokens depend on the seed and its index, never on how many other
 * sequences share the batch. The state words come from the `lowbias32` integer finaliser
 * (C. Wellons, "Prospecting for hash functions", 2018), applied over the seed's two 32-bit words
 * and the stream index. Not cryptographic; statistically fine for sampling.
 */

/** A seeded stream of uniform numbers. */
export interface Rng {
  /** A uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** A uniform float in [0, 1) with 53 random bits (two 32-bit outputs). */
  nextFloat(): number;
}

/** A 64-bit seed as two unsigned 32-bit words, low first. */
export type SeedWords = readonly [lo: number, hi: number];

const TWO_POW_32 = 2 ** 32;

/** xoshiro128**: 128-bit state, period 2^128 − 1. */
export class Xoshiro128 implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Starts from four state words (not all zero); tests use it to check the recurrence. */
  constructor(state: readonly [number, number, number, number]) {
    [this.s0, this.s1, this.s2, this.s3] = state.map((w) => w >>> 0) as [
      number,
      number,
      number,
      number,
    ];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) {
      throw new RangeError('xoshiro128** state must not be all zero (the generator would stay 0).');
    }
  }

  nextUint32(): number {
    const out = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return out;
  }

  /** The four state words (uint32), e.g. to run the same stream on the device (sample-rows.ts). */
  state(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  nextFloat(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 2 ** 26 + b) / 2 ** 53;
  }
}

/**
 * The two 32-bit words of an integer seed (two's complement, modulo 2^64): any finite integer
 * maps to the same words every time. `null` draws 64 fresh bits from crypto.getRandomValues.
 */
export function seedWords(seed: number | null): SeedWords {
  if (seed === null) {
    const words = globalThis.crypto.getRandomValues(new Uint32Array(2));
    return [words[0] ?? 0, words[1] ?? 0];
  }
  if (!Number.isInteger(seed)) throw new RangeError(`seed ${seed} is not an integer.`);
  // For an integer double, ToUint32 (>>> 0) is exact arithmetic modulo 2^32, and the division
  // by a power of two is exact, so lo + hi·2^32 ≡ seed (mod 2^64).
  return [seed >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
}

/** Odd constants that make the four state words distinct hashes of the same inputs. */
const WORD_KEYS = [0x9e3779b9, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f] as const;

/** The generator for stream `stream` (a sequence index ≥ 0) of `seed`. */
export function streamRng(seed: SeedWords, stream: number): Xoshiro128 {
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) {
    throw new RangeError(`stream ${stream} must be an integer in [0, 2^32).`);
  }
  const [lo, hi] = seed;
  const state = WORD_KEYS.map((key) => mix32(mix32(mix32(lo ^ key) ^ hi) ^ stream)) as [
    number,
    number,
    number,
    number,
  ];
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = WORD_KEYS[0];
  return new Xoshiro128(state);
}

/** lowbias32: a bijection on 32-bit words with strong avalanche. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
