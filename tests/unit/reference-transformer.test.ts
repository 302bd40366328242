// The float64 reference transformer, checked against hand-derived numbers on minimal models and
// against properties every causal LM with LoRA must have. Finite differences on a quadratic.
import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../../src/model/config';
import {
  embeddingName,
  layerProjections,
  unembedProjection,
  type ProjectionName,
  type ProjectionSpec,
} from '../../src/model/weight-names';
import { seededArray } from '../helpers/seeded';
import { TINY_CONFIGS, TINY_MODEL_NAMES, tinyModel } from '../helpers/tiny-models';
import { gradFD } from '../reference/finite-diff';
import { handGpt2Case, handLlamaCases } from '../reference/transformer-f64-hand-cases';
import {
  IGNORE_INDEX,
  referenceLogits,
  referenceTargetLogprobs,
  type LoraFactors,
  type ReferenceTensor,
} from '../reference/transformer-f64';
import {
  addLora,
  applyRope,
  causalAttention,
  geluTanh,
  layerNorm,
  linearInOut,
  linearOutIn,
  rmsNorm,
  silu,
} from '../reference/transformer-f64-ops';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
};

describe('reference ops, by hand', () => {
  it('RMSNorm of [3, 4]', () => {
    // mean(x²) = (9 + 16) / 2 = 12.5, so x / √12.5 = [0.6√2, 0.8√2] ≈ [0.848528, 1.131371];
    // with weight [2, 0.5]: [1.2√2, 0.4√2].
    const y = rmsNorm(Float64Array.of(3, 4), 1, 2, Float64Array.of(2, 0.5), 0);
    expect(y[0]).toBeCloseTo(1.2 * Math.SQRT2, 14);
    expect(y[1]).toBeCloseTo(0.4 * Math.SQRT2, 14);
  });

  it('LayerNorm uses the biased variance', () => {
    // [1, 2, 3]: mean 2, biased variance 2/3 → [−1, 0, 1]·√1.5 (the unbiased one would give [−1, 0, 1]).
    const y = layerNorm(Float64Array.of(1, 2, 3), 1, 3, Float64Array.of(1, 1, 2), [0, 0.5, 1], 0);
    expect(y[0]).toBeCloseTo(-Math.sqrt(1.5), 14);
    expect(y[1]).toBeCloseTo(0.5, 14);
    expect(y[2]).toBeCloseTo(2 * Math.sqrt(1.5) + 1, 14);
  });

  it('RoPE pairs channel i with i + D/2 (rotate-half) at θ^(−2i/D)', () => {
    // D = 4, θ = 10000: inv_freq = [1, 10000^(−1/2) = 0.01]. x = [1, 2, 3, 4] at position 1:
    // pair (x0, x2) = (1, 3) turns by 1 rad → (cos1 − 3 sin1, 3 cos1 + sin1) ≈ (−1.984111, 2.462378);
    // pair (x1, x3) = (2, 4) turns by 0.01 → (2 cos.01 − 4 sin.01, 4 cos.01 + 2 sin.01) ≈ (1.959901, 4.019780).
    const x = Float64Array.of(1, 2, 3, 4, 1, 2, 3, 4); // [T=2, D=4], positions 0 and 1
    applyRope(x, 2, 1, 4, 10000);
    expect([...x.subarray(0, 4)]).toEqual([1, 2, 3, 4]); // position 0: angle 0
    const expected = [
      Math.cos(1) - 3 * Math.sin(1),
      2 * Math.cos(0.01) - 4 * Math.sin(0.01),
      3 * Math.cos(1) + Math.sin(1),
      4 * Math.cos(0.01) + 2 * Math.sin(0.01),
    ];
    expect(maxAbsDiff(x.subarray(4), expected)).toBeLessThan(1e-14);
    expect(x[4]).toBeCloseTo(-1.984111, 6);
  });

  it('GELU (tanh) and SiLU at known points', () => {
    // gelu_tanh(1) = ½(1 + tanh(√(2/π)·1.044715)) = 0.8411919906082768 (torch gelu approximate='tanh').
    expect(geluTanh(1)).toBeCloseTo(0.8411919906082768, 15);
    expect(geluTanh(0)).toBe(0);
    // silu(1) = 1 / (1 + e⁻¹) = 0.7310585786300049.
    expect(silu(1)).toBeCloseTo(0.7310585786300049, 15);
  });

  it('causal attention over two positions', () => {
    // D = 1 (scale 1): q = [1, 2], k = [0.5, 1], v = [10, 20]. Position 0 sees only itself → 10.
    // Position 1: scores [2·0.5, 2·1] = [1, 2] → p = [1 − σ(1), σ(1)] → 10 + 10·σ(1) ≈ 17.310586.
    const out = causalAttention(
      Float64Array.of(1, 2),
      Float64Array.of(0.5, 1),
      Float64Array.of(10, 20),
      2,
      1,
      1,
      1,
    );
    expect(out[0]).toBe(10);
    expect(out[1]).toBeCloseTo(10 + 10 / (1 + Math.exp(-1)), 13);
  });

  it('grouped-query attention: query head h reads kv head ⌊h / (H/K)⌋', () => {
    // One position: each head's output is its kv head's v. H = 4, K = 2, D = 1, v = [7, 9].
    const out = causalAttention(
      new Float64Array(4),
      new Float64Array(2),
      Float64Array.of(7, 9),
      1,
      4,
      2,
      1,
    );
    expect([...out]).toEqual([7, 7, 9, 9]);
  });

  it('nn.Linear, Conv1D and the LoRA term', () => {
    // W = [[1, 2], [3, 4]], x = [1, 1]: as nn.Linear x·Wᵀ + [0.5, 0] = [3.5, 7]; as Conv1D x·W = [4, 6].
    const x = Float64Array.of(1, 1);
    expect([...linearOutIn(x, 1, 2, 2, Float64Array.of(1, 2, 3, 4), [0.5, 0])]).toEqual([3.5, 7]);
    expect([...linearInOut(x, 1, 2, 2, Float64Array.of(1, 2, 3, 4))]).toEqual([4, 6]);
    // A [1, 2] = [1, 1], B [2, 1] = [1, 2], s = 0.5, x = [1, 2]: x·Aᵀ = 3 → s·3·[1, 2] = [1.5, 3].
    const y = Float64Array.of(10, 20);
    const lora = { A: Float64Array.of(1, 1), B: Float64Array.of(1, 2), r: 1, scale: 0.5 };
    addLora(y, Float64Array.of(1, 2), 1, 2, 2, lora);
    expect([...y]).toEqual([11.5, 23]);
  });
});

describe('reference forward against closed forms (one layer, two tokens)', () => {
  // The cases and their step-by-step derivations: tests/reference/transformer-f64-hand-cases.ts.
  for (const c of [...handLlamaCases(), handGpt2Case()]) {
    it(`${c.label}: logits equal the closed form`, () => {
      expect(maxAbsDiff(referenceLogits(c.config, c.weights, c.tokens), c.logits)).toBeLessThan(
        1e-13,
      );
      expect(Math.min(c.p1, 1 - c.p1)).toBeGreaterThan(0.1); // position 1 attends to both
    });
  }
});

/** Random LoRA factors for a projection, non-zero B unless `fresh`. */
function loraFor(spec: ProjectionSpec, seed: number, fresh = false): LoraFactors {
  const r = 2;
  return {
    A: Float64Array.from(seededArray(r * spec.inFeatures, seed)),
    B: fresh
      ? new Float64Array(spec.outFeatures * r)
      : Float64Array.from(seededArray(spec.outFeatures * r, seed + 1)),
    r,
    scale: 1.5,
  };
}

/** W + s·B·A in the stored layout ([out, in] for nn.Linear, [in, out] for Conv1D). */
function mergeLora(spec: ProjectionSpec, w: ArrayLike<number>, f: LoraFactors): Float64Array {
  const { inFeatures: I, outFeatures: O } = spec;
  const merged = Float64Array.from(w);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < I; i++) {
      let ba = 0;
      for (let j = 0; j < f.r; j++) ba += f.B[o * f.r + j]! * f.A[j * I + i]!;
      const at = spec.layout === 'out_in' ? o * I + i : i * O + o;
      merged[at] = merged[at]! + f.scale * ba;
    }
  }
  return merged;
}

const spec = (config: ModelConfig, layer: number, name: ProjectionName): ProjectionSpec =>
  name === 'lm_head'
    ? unembedProjection(config)
    : layerProjections(config, layer).find((p) => p.projection === name)!;

describe('reference forward, properties on the tiny models', () => {
  const tokens = [3, 1, 4, 1, 5, 9, 2, 6];

  for (const name of TINY_MODEL_NAMES) {
    it(`${name}: logits at t do not depend on tokens after t`, () => {
      const { config, weights } = tinyModel(name);
      const V = config.vocabSize;
      const a = referenceLogits(config, weights, tokens);
      const b = referenceLogits(config, weights, [...tokens.slice(0, 4), 7, 8, 0, 11]);
      expect(a.subarray(0, 4 * V)).toEqual(b.subarray(0, 4 * V));
      expect(maxAbsDiff(a.subarray(4 * V, 5 * V), b.subarray(4 * V, 5 * V))).toBeGreaterThan(1e-3);
    });

    it(`${name}: a fresh LoRA (B = 0) on every projection changes nothing`, () => {
      const { config, weights } = tinyModel(name);
      const lora = new Map<string, LoraFactors>();
      const specs = [unembedProjection(config)];
      for (let i = 0; i < config.numLayers; i++) specs.push(...layerProjections(config, i));
      specs.forEach((s, k) => lora.set(s.path, loraFor(s, 100 + k, true)));
      expect(referenceLogits(config, weights, tokens, lora)).toEqual(
        referenceLogits(config, weights, tokens),
      );
    });
  }

  const mergeCases: [keyof typeof TINY_CONFIGS, number, ProjectionName][] = [
    ['llamaGqa', 0, 'q_proj'],
    ['llamaGqa', 1, 'down_proj'],
    ['llamaGqa', 0, 'lm_head'],
    ['qwen2', 0, 'k_proj'],
    ['qwen3', 1, 'v_proj'],
    ['gpt2', 0, 'c_attn'],
    ['gpt2', 1, 'mlp.c_proj'],
  ];
  for (const [name, layer, projection] of mergeCases) {
    it(`${name}: LoRA on ${projection} (layer ${layer}) equals merging s·B·A into W`, () => {
      const { config, weights } = tinyModel(name);
      const s = spec(config, layer, projection);
      const f = loraFor(s, 7);
      const merged = new Map(weights as Map<string, ReferenceTensor>);
      const key = `${s.path}.weight`;
      const w = weights.get(key)!;
      merged.set(key, { shape: w.shape, data: mergeLora(s, w.data, f) });
      const withLora = referenceLogits(config, weights, tokens, new Map([[s.path, f]]));
      const reference = referenceLogits(config, merged, tokens);
      expect(maxAbsDiff(withLora, reference)).toBeLessThan(1e-12);
      expect(maxAbsDiff(withLora, referenceLogits(config, weights, tokens))).toBeGreaterThan(1e-3);
    });
  }

  it('tied equals untied with lm_head = embedding; lm_head LoRA on a tied model adapts the unembedding', () => {
    const { config, weights } = tinyModel('qwen2');
    const untied = parseModelConfig({ ...TINY_CONFIGS.qwen2, tie_word_embeddings: false });
    const emb = weights.get(embeddingName(config))!;
    const withHead = new Map<string, ReferenceTensor>(weights);
    withHead.set('lm_head.weight', emb);
    expect(referenceLogits(untied, withHead, tokens)).toEqual(
      referenceLogits(config, weights, tokens),
    );

    const s = unembedProjection(config);
    const f = loraFor(s, 11);
    withHead.set('lm_head.weight', { shape: emb.shape, data: mergeLora(s, emb.data, f) });
    const lora = new Map([['lm_head', f]]);
    const diff = maxAbsDiff(
      referenceLogits(config, weights, tokens, lora),
      referenceLogits(untied, withHead, tokens),
    );
    expect(diff).toBeLessThan(1e-12);
  });

  it('qwen3: q_norm follows q_proj (scaling q_proj leaves logits unchanged; llama has no such norm)', () => {
    // RMSNorm(c·q) = RMSNorm(q) up to eps (1e-6 against mean(q²) ≈ 1).
    for (const [name, moves] of [
      ['qwen3', false],
      ['llamaGqa', true],
    ] as const) {
      const { config, weights } = tinyModel(name);
      const key = 'model.layers.0.self_attn.q_proj.weight';
      const scaled = new Map<string, ReferenceTensor>(weights);
      const w = weights.get(key)!;
      scaled.set(key, { shape: w.shape, data: w.data.map((v) => 3 * v) });
      const diff = maxAbsDiff(
        referenceLogits(config, scaled, tokens),
        referenceLogits(config, weights, tokens),
      );
      if (moves) expect(diff).toBeGreaterThan(1e-3);
      else expect(diff).toBeLessThan(1e-5);
    }
  });

  it('target log-probs: log-softmax at the target, 0 where ignored, normalised over the vocabulary', () => {
    const { config, weights } = tinyModel('llamaGqa');
    const V = config.vocabSize;
    const toks = [3, 1, 4, 1];
    const targets = [1, IGNORE_INDEX, 1, 5];
    const lp = referenceTargetLogprobs(config, weights, toks, targets);
    expect(lp[1]).toBe(0);
    const logits = referenceLogits(config, weights, toks);
    for (const t of [0, 2, 3]) {
      const row = [...logits.subarray(t * V, (t + 1) * V)];
      const logZ = Math.log(row.reduce((a, z) => a + Math.exp(z), 0)); // logits are O(1): no overflow
      expect(lp[t]).toBeCloseTo(row[targets[t]!]! - logZ, 12);
    }
    // Σ_v p(v | prefix) = 1 at every position.
    const total = new Float64Array(toks.length);
    for (let v = 0; v < V; v++) {
      referenceTargetLogprobs(
        config,
        weights,
        toks,
        toks.map(() => v),
      ).forEach((l, t) => (total[t] = total[t]! + Math.exp(l)));
    }
    expect(maxAbsDiff(total, [1, 1, 1, 1])).toBeLessThan(1e-12);
  });

  it('rejects wrong inputs with messages that name them', () => {
    const { config, weights } = tinyModel('llamaTied');
    const missing = new Map(weights);
    missing.delete('model.norm.weight');
    expect(() => referenceLogits(config, missing, [1])).toThrow(/model\.norm\.weight is missing/);
    expect(() => referenceLogits(config, weights, [1, 40])).toThrow(/tokens\[1\] = 40/);
    expect(() => referenceTargetLogprobs(config, weights, [1, 2], [1])).toThrow(/must be equal/);
    const bad = new Map([
      [
        'model.layers.0.mlp.up_proj',
        { A: new Float64Array(3), B: new Float64Array(3), r: 1, scale: 1 },
      ],
    ]);
    expect(() => referenceLogits(config, weights, [1], bad)).toThrow(/up_proj needs A \[1, 16\]/);
  });
});

describe('finite differences', () => {
  it('give the exact gradient of a quadratic, at the indices asked, without touching x', () => {
    // f(x) = ½ xᵀMx + bᵀx ⇒ ∇f = ½(M + Mᵀ)x + b; central differences have no truncation error here.
    const M = [
      [2, 1, 0],
      [3, 4, -1],
      [0, 2, 5],
    ];
    const b = [1, -2, 0.5];
    const f = (x: Float64Array): number => {
      let s = 0;
      for (let i = 0; i < 3; i++) {
        s += b[i]! * x[i]!;
        for (let j = 0; j < 3; j++) s += 0.5 * x[i]! * M[i]![j]! * x[j]!;
      }
      return s;
    };
    const x = Float64Array.of(0.3, -1.2, 2);
    const exact = [0, 1, 2].map((i) => {
      let g = b[i]!;
      for (let j = 0; j < 3; j++) g += 0.5 * (M[i]![j]! + M[j]![i]!) * x[j]!;
      return g;
    });
    expect(maxAbsDiff(gradFD(f, x), exact)).toBeLessThan(1e-9);
    expect(maxAbsDiff(gradFD(f, x, 1e-4, [2, 0]), [exact[2]!, exact[0]!])).toBeLessThan(1e-9);
    expect([...x]).toEqual([0.3, -1.2, 2]);
    expect(() => gradFD(f, x, 1e-5, [3])).toThrow(/index 3/);
  });

  it('approximate a smooth function to O(h²)', () => {
    // f = Σ sin(x_i): ∂f/∂x_i = cos(x_i); truncation h²/6·|cos| ≤ 1.7e-11 at h = 1e-5.
    const f = (x: Float64Array): number => x.reduce((s, v) => s + Math.sin(v), 0);
    const x = Float64Array.of(0.1, 1.3, -2.2, 3);
    expect(maxAbsDiff(gradFD(f, x), [...x].map(Math.cos))).toBeLessThan(1e-9);
  });
});
