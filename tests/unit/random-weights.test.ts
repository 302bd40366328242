// Random real-shape weights: exact names and shapes, seeded determinism, the init it promises, and
// the known Hub configs with their parameter counts.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/loops-errors';
import { parseModelConfig } from '../../src/model/config';
import { KNOWN_CONFIGS, KNOWN_MODEL_IDS } from '../../src/model/known-configs';
import {
  generateRandomWeights,
  randomTensor,
  randomWeights,
  RANDOM_WEIGHT_DEFAULTS,
} from '../../src/model/random-weights';
import { expectedTensors, type TensorSpec } from '../../src/model/weight-names';
import {
  TINY_CONFIGS,
  TINY_MODEL_NAMES,
  TINY_WEIGHT_OPTIONS,
  tinyWeights,
} from '../helpers/tiny-models';

const count = (specs: readonly TensorSpec[]): number =>
  specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);

function stats(data: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of data) sum += v;
  const mean = sum / data.length;
  let sq = 0;
  for (const v of data) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / data.length) };
}

describe('random weights for the tiny models', () => {
  for (const name of TINY_MODEL_NAMES) {
    it(`${name}: exactly the expected names and shapes, in order`, () => {
      const config = parseModelConfig(TINY_CONFIGS[name]);
      const weights = tinyWeights(TINY_CONFIGS[name], 1);
      const specs = expectedTensors(config);
      expect([...weights.keys()]).toEqual(specs.map((s) => s.name));
      for (const s of specs) {
        const t = weights.get(s.name)!;
        expect(t.shape).toEqual(s.shape);
        expect(t.data.length).toBe(s.shape.reduce((a, b) => a * b, 1));
        expect(t.data.every(Number.isFinite)).toBe(true);
      }
    });
  }

  it('same seed gives the same data; another seed changes every tensor', () => {
    const config = parseModelConfig(TINY_CONFIGS.qwen3);
    const a = randomWeights(config, 42);
    const b = randomWeights(config, 42);
    const c = randomWeights(config, 43);
    const d = randomWeights(config, 42 + 2 ** 32); // seeds past 32 bits still count
    for (const [name, t] of a) {
      expect(b.get(name)!.data).toEqual(t.data);
      expect(c.get(name)!.data).not.toEqual(t.data);
      expect(d.get(name)!.data).not.toEqual(t.data);
    }
  });

  it('each tensor has its own stream: one tensor alone equals the same tensor in the full set', () => {
    const config = parseModelConfig(TINY_CONFIGS.gpt2);
    const all = randomWeights(config, 5);
    const spec = expectedTensors(config)[7]!;
    expect(randomTensor(spec, 5).data).toEqual(all.get(spec.name)!.data);
    // Tensors of the same shape differ (the stream depends on the name).
    expect(all.get('h.0.ln_1.weight')!.data).not.toEqual(all.get('h.0.ln_2.weight')!.data);
  });

  it('the generator yields lazily, one tensor per step', () => {
    const config = parseModelConfig(TINY_CONFIGS.llamaGqa);
    const it = generateRandomWeights(config, 3);
    const first = it.next();
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ name: 'model.embed_tokens.weight', shape: [48, 32] });
    expect([...it].length).toBe(expectedTensors(config).length - 1);
  });

  it('rejects a bad seed or option with a ValidationError that names it', () => {
    const config = parseModelConfig(TINY_CONFIGS.llamaTied);
    expect(() => randomWeights(config, 1.5)).toThrow(ValidationError);
    expect(() => randomWeights(config, 1, { std: -1 })).toThrow(/option std/);
  });
});

describe('random weights: the promised init', () => {
  // SmolLM2's k_proj [192, 576] = 110,592 draws: the sample mean of N(0, σ²) has standard error
  // σ/√n ≈ 0.003σ, and the sample std is within about √(1/2n) ≈ 0.2% of σ; 5σ-wide bounds.
  const smol = parseModelConfig(KNOWN_CONFIGS['HuggingFaceTB/SmolLM2-135M']);
  const specs = expectedTensors(smol);
  const byName = (name: string): TensorSpec => specs.find((s) => s.name === name)!;

  it('matrices ~ N(0, 0.02²) by default', () => {
    const { data } = randomTensor(byName('model.layers.0.self_attn.k_proj.weight'), 9);
    const { mean, std } = stats(data);
    expect(Math.abs(mean)).toBeLessThan((5 * 0.02) / Math.sqrt(data.length));
    expect(Math.abs(std / RANDOM_WEIGHT_DEFAULTS.std - 1)).toBeLessThan(
      5 * Math.sqrt(1 / (2 * data.length)),
    );
  });

  it('norm weights ~ 1 + N(0, normNoise²); biases ~ N(0, biasStd²), here with tiny-model options', () => {
    // 576 draws each: standard error of the mean σ/24; of the std about σ/34.
    const norm = randomTensor(
      byName('model.layers.3.input_layernorm.weight'),
      9,
      TINY_WEIGHT_OPTIONS,
    ).data;
    const n = stats(norm);
    expect(Math.abs(n.mean - 1)).toBeLessThan((5 * 0.1) / 24);
    expect(Math.abs(n.std - 0.1)).toBeLessThan((5 * 0.1) / 34);
    const bias = randomTensor({ name: 'x.bias', shape: [576] }, 9, TINY_WEIGHT_OPTIONS).data;
    const b = stats(bias);
    expect(Math.abs(b.mean)).toBeLessThan((5 * 0.1) / 24);
    expect(Math.abs(b.std - 0.1)).toBeLessThan((5 * 0.1) / 34);
  });
});

describe('known Hub configs', () => {
  // Exact counts from the shapes (tied embeddings once; derivation per model below).
  const expected: Record<string, number> = {
    // 49152·576 + 30·(2·576² + 2·192·576 + 3·1536·576 + 2·576) + 576
    //   = 28,311,552 + 30·3,540,096 + 576
    'HuggingFaceTB/SmolLM2-135M': 134_515_008,
    // 151936·896 + 24·(2·896² + 2·128·896 + (896 + 2·128) + 3·4864·896 + 2·896) + 896
    //   = 136,134,656 + 24·14,912,384 + 896
    'Qwen/Qwen2.5-0.5B': 494_032_768,
    // 151936·1024 + 28·(2·2048·1024 + 2·1024·1024 + 3·3072·1024 + 2·1024 + 2·128) + 1024
    //   = 155,582,464 + 28·15,730,944 + 1024
    'Qwen/Qwen3-0.6B': 596_049_920,
    // 50257·768 + 1024·768 + 12·(768·2304 + 2304 + 768² + 768 + 2·(768·3072) + 3072 + 768 + 4·768) + 2·768
    //   = 38,597,376 + 786,432 + 12·7,087,872 + 1536
    'openai-community/gpt2': 124_439_808,
  };

  for (const id of KNOWN_MODEL_IDS) {
    it(`${id}: parses, unique tensor names, ${expected[id]} parameters`, () => {
      const config = parseModelConfig(KNOWN_CONFIGS[id], id);
      const specs = expectedTensors(config);
      expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
      expect(count(specs)).toBe(expected[id]);
    });
  }

  it('parse to the figures of the reference table', () => {
    const pick = (id: (typeof KNOWN_MODEL_IDS)[number]) => {
      const c = parseModelConfig(KNOWN_CONFIGS[id]);
      return [
        c.family,
        c.numLayers,
        c.hiddenSize,
        c.numHeads,
        c.numKvHeads,
        c.headDim,
        c.intermediateSize,
        c.vocabSize,
        c.ropeTheta,
        c.normEps,
        c.tieWordEmbeddings,
        c.attentionBias,
        c.qkNorm,
      ];
    };
    // shared/reference/models-and-formats.md §1.1.
    expect(pick('HuggingFaceTB/SmolLM2-135M')).toEqual([
      'llama',
      30,
      576,
      9,
      3,
      64,
      1536,
      49152,
      100000,
      1e-5,
      true,
      false,
      false,
    ]);
    expect(pick('Qwen/Qwen2.5-0.5B')).toEqual([
      'qwen2',
      24,
      896,
      14,
      2,
      64,
      4864,
      151936,
      1e6,
      1e-6,
      true,
      true,
      false,
    ]);
    expect(pick('Qwen/Qwen3-0.6B')).toEqual([
      'qwen3',
      28,
      1024,
      16,
      8,
      128,
      3072,
      151936,
      1e6,
      1e-6,
      true,
      false,
      true,
    ]);
    expect(pick('openai-community/gpt2')).toEqual([
      'gpt2',
      12,
      768,
      12,
      12,
      64,
      3072,
      50257,
      0,
      1e-5,
      true,
      false,
      false,
    ]);
    expect(parseModelConfig(KNOWN_CONFIGS['openai-community/gpt2']).maxPositions).toBe(1024);
    expect(Object.isFrozen(KNOWN_CONFIGS['Qwen/Qwen3-0.6B'])).toBe(true);
  });
});
