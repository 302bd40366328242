/**
 * Seeded random weights with exactly the names and shapes a config expects (`expectedTensors`), so
 * tests and benchmarks run every loading and compute path at real size without downloading a model.
 * It leaves loading to the engine: it only makes float32 arrays.
 *
 * Init, GPT-2 style (Radford et al. 2019; HF `_init_weights` with initializer_range 0.02):
 * - matrices and embeddings (rank 2): N(0, std²), std 0.02;
 * - norm weights (rank-1 `.weight`): 1 + N(0, normNoise²), off 1 so tests see them act;
 * - biases (`.bias`, LayerNorm shifts included): N(0, biasStd²).
 * Normal draws: Marsaglia's polar method, (x, y) uniform in the unit disc, q = x² + y²,
 * z = (x, y)·√(−2 ln q / q), on a mulberry32 stream (Marsaglia & Bray 1964). Each
 * tensor has its own stream, seeded from (seed, name), so one tensor can be rebuilt alone and the
 * order tensors are made in does not matter.
 */
import { ValidationError } from '../errors/loops-errors';
import type { ModelConfig } from './config';
import { expectedTensors, type TensorSpec } from './weight-names';

export interface RandomWeightOptions {
  /** Standard deviation of matrices and embeddings (HF `initializer_range`). */
  readonly std?: number;
  /** Standard deviation of norm weights around 1. */
  readonly normNoise?: number;
  /** Standard deviation of biases around 0. */
  readonly biasStd?: number;
}

export const RANDOM_WEIGHT_DEFAULTS: Readonly<Required<RandomWeightOptions>> = Object.freeze({
  std: 0.02,
  normNoise: 0.05,
  biasStd: 0.02,
});

/** One generated tensor, row-major, in the checkpoint's naming. */
export interface RandomTensor {
  readonly name: string;
  readonly shape: number[];
  readonly data: Float32Array;
}

/**
 * Yields every tensor of `config`, one at a time, in `expectedTensors` order. A caller that uploads
 * and drops each one holds a single tensor in memory (SmolLM2-135M: 134.5M floats in all).
 */
export function* generateRandomWeights(
  config: ModelConfig,
  seed: number,
  options: RandomWeightOptions = {},
): Generator<RandomTensor, void, undefined> {
  checkSeed(seed);
  const specs = expectedTensors(config);
  for (const spec of specs) yield randomTensor(spec, seed, options);
}

/** All tensors of `config` at once, by name. For tiny models; use the generator for real sizes. */
export function randomWeights(
  config: ModelConfig,
  seed: number,
  options: RandomWeightOptions = {},
): Map<string, RandomTensor> {
  const out = new Map<string, RandomTensor>();
  for (const t of generateRandomWeights(config, seed, options)) out.set(t.name, t);
  return out;
}

/** The tensor `spec` as `generateRandomWeights` makes it for this seed (same data, alone). */
export function randomTensor(
  spec: TensorSpec,
  seed: number,
  options: RandomWeightOptions = {},
): RandomTensor {
  checkSeed(seed);
  const { std, normNoise, biasStd } = resolveOptions(options);
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  const streamSeedOf = streamSeed(seed, spec.name);
  if (spec.name.endsWith('.bias')) fillNormal(data, streamSeedOf, 0, biasStd);
  else if (spec.shape.length === 1) fillNormal(data, streamSeedOf, 1, normNoise);
  else fillNormal(data, streamSeedOf, 0, std);
  return { name: spec.name, shape: [...spec.shape], data };
}

function resolveOptions(options: RandomWeightOptions): Required<RandomWeightOptions> {
  const resolved = { ...RANDOM_WEIGHT_DEFAULTS, ...options };
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new ValidationError(
        `randomWeights: option ${key} must be a finite number ≥ 0, got ${value}.`,
      );
    }
  }
  return resolved;
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    throw new ValidationError(`randomWeights: seed must be an integer, got ${seed}.`);
  }
}

/** A 32-bit stream seed from the run seed and the tensor name (FNV-1a of the name, then mixed). */
function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  // Fold in both 32-bit halves of the seed so seeds ≥ 2³² still differ.
  h ^= Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0xc2b2ae35);
  h ^= h >>> 16;
  return Math.imul(h, 0x27d4eb2d) >>> 0;
}

/**
 * Fills `data` with mean + std·z, z ~ N(0, 1), from a mulberry32 stream seeded with `seed`:
 * Marsaglia's polar method (two draws per accepted point of the unit disc, no trigonometry), in
 * one tight loop, since real models need 10⁸ draws.
 */
function fillNormal(data: Float32Array, seed: number, mean: number, std: number): void {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296; // [0, 1)
  };
  for (let i = 0; i < data.length; i += 2) {
    let x: number;
    let y: number;
    let q: number;
    do {
      x = 2 * uniform() - 1;
      y = 2 * uniform() - 1;
      q = x * x + y * y;
    } while (q >= 1 || q === 0); // accept points inside the unit disc (about 79%)
    const f = std * Math.sqrt((-2 * Math.log(q)) / q);
    data[i] = mean + x * f;
    if (i + 1 < data.length) data[i + 1] = mean + y * f;
  }
}
