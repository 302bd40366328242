// Builds engine-side (TF.js) models from the tiny fixtures, with LoRA factors mirrored into the
// float64 reference's form, so the same model can be run by both.
import * as tf from '@tensorflow/tfjs';
import { LoraAdapter, type LoraConfig } from '../../src/lora/adapter';
import { CausalLM, type CausalLMOptions } from '../../src/model/causal-lm';
import type { ModelConfig } from '../../src/model/config';
import type { ProjectionName } from '../../src/model/weight-names';
import type { LoraFactors } from '../reference/transformer-f64';
import { tinyModel, type TinyModelName, type TinyTensor } from './tiny-models';
import { seededArray } from './seeded';

export interface EngineFixture {
  config: ModelConfig;
  weights: Map<string, TinyTensor>;
  tfWeights: Map<string, tf.Tensor>;
  adapter: LoraAdapter | null;
  model: CausalLM;
  dispose(): void;
}

/** A tiny model on TF.js; with `lora`, an adapter whose B is filled with seeded noise (not zero). */
export function engineFixture(
  name: TinyModelName,
  lora?: { targets: ProjectionName[]; rank: number; alpha?: number; seed?: number },
  options: CausalLMOptions = {},
): EngineFixture {
  const { config, weights } = tinyModel(name);
  const tfWeights = new Map<string, tf.Tensor>();
  for (const [key, t] of weights) tfWeights.set(key, tf.tensor(t.data, t.shape));
  let adapter: LoraAdapter | null = null;
  if (lora) {
    const loraConfig: LoraConfig = {
      rank: lora.rank,
      alpha: lora.alpha ?? 2 * lora.rank,
      targets: lora.targets,
      seed: lora.seed ?? 7,
    };
    adapter = LoraAdapter.create(config, loraConfig);
    let seed = 100;
    for (const m of adapter.modules.values()) {
      const noise = tf.tensor2d(seededArray(m.b.size, seed++, 0.6), m.b.shape);
      m.b.assign(noise);
      noise.dispose();
    }
  }
  const model = new CausalLM(config, tfWeights, adapter, options);
  return {
    config,
    weights,
    tfWeights,
    adapter,
    model,
    dispose() {
      adapter?.dispose();
      for (const t of tfWeights.values()) t.dispose();
    },
  };
}

/** The adapter's current factors in the reference's float64 form, by module path. */
export function referenceLora(adapter: LoraAdapter | null): Map<string, LoraFactors> {
  const out = new Map<string, LoraFactors>();
  if (!adapter) return out;
  for (const [path, m] of adapter.modules) {
    out.set(path, {
      A: Float64Array.from(m.a.dataSync()),
      B: Float64Array.from(m.b.dataSync()),
      r: adapter.config.rank,
      scale: adapter.scale,
    });
  }
  return out;
}

/** Largest |a − b| over max |b|: the relative agreement the tests quote. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / scale;
}

/**
 * A B 2 × T 8 batch for the tiny models (ids < 31) and its next-token targets; the −100 target is
 * ignored, as in Run's batches.
 */
export const TINY_BATCH: { readonly tokens: number[][]; readonly targets: number[][] } = {
  tokens: [
    [3, 17, 5, 9, 22, 1, 4, 8],
    [7, 2, 30, 11, 6, 13, 21, 0],
  ],
  targets: [
    [17, 5, 9, 22, 1, 4, 8, -100],
    [2, 30, 11, 6, 13, 21, 0, 12],
  ],
};
