// PEFT adapters in and out (src/io/peft.ts), against PEFT's documented layout rather than our own
// writer: an adapter written byte by byte (tests/helpers/peft-by-hand.ts) imports and gives the
// float64 reference's logits with that adapter merged per PEFT's rule
//   y = x·Wᵀ + (alpha_m / r_m)·(x·A_mᵀ)·B_mᵀ,
// where r_m and alpha_m come from `rank_pattern` / `alpha_pattern` for module m (first key k, in
// order, such that the module name matches `(.*\.)?(k)$`), else from `r` / `lora_alpha`
// (peft/tuners/lora/model.py `_create_and_replace`, peft/utils/other.py `get_pattern_key`).
// GPT-2 exports keep the `transformer.` prefix in keys and say `fan_in_fan_out: true`.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPeftAdapter, writePeftAdapter } from '../../src/io/peft';
import { parseSafetensorsHeader } from '../../src/io/safetensors';
import { LoraAdapter } from '../../src/lora/adapter';
import { CausalLM } from '../../src/model/causal-lm';
import { InvalidFileError } from '../../src/errors/loops-errors';
import { referenceLogits, type LoraFactors } from '../reference/transformer-f64';
import { relativeError } from '../helpers/model-fixtures';
import { handAdapterConfig, handSafetensors, type HandFactor } from '../helpers/peft-by-hand';
import { seededArray } from '../helpers/seeded';
import { tinyModel, type TinyModelName } from '../helpers/tiny-models';
import { expectNoLeaks, useCpuBackend } from '../helpers/tf-node';

beforeAll(useCpuBackend);
const tokens = [3, 17, 5, 9, 22, 1];

interface HandModule {
  /** PEFT's module name and the model's path for it. */
  module: string;
  path: string;
  inF: number;
  outF: number;
  r: number;
  /** alpha_m / r_m, as PEFT computes it for this module. */
  scale: number;
}

function factors(mods: readonly HandModule[]): {
  hand: HandFactor[];
  ref: Map<string, LoraFactors>;
} {
  const hand: HandFactor[] = [];
  const ref = new Map<string, LoraFactors>();
  mods.forEach((m, i) => {
    const a = Float32Array.from(seededArray(m.r * m.inF, 50 + i, 0.3));
    const b = Float32Array.from(seededArray(m.outF * m.r, 80 + i, 0.3));
    hand.push({ module: m.module, a, aShape: [m.r, m.inF], b, bShape: [m.outF, m.r] });
    ref.set(m.path, { A: Float64Array.from(a), B: Float64Array.from(b), r: m.r, scale: m.scale });
  });
  return { hand, ref };
}

/** Imports the hand-written adapter and compares the model's logits with the reference's. */
async function importedLogitsError(
  name: TinyModelName,
  mods: readonly HandModule[],
  config: Record<string, unknown>,
): Promise<number> {
  const { config: model, weights } = tinyModel(name);
  const { hand, ref } = factors(mods);
  const peft = readPeftAdapter(model, handSafetensors(hand), config);
  const tfWeights = new Map([...weights].map(([k, t]) => [k, tf.tensor(t.data, t.shape)]));
  const adapter = LoraAdapter.fromArrays(
    model,
    { rank: peft.rank, alpha: peft.alpha, targets: peft.targets, seed: 0 },
    peft.factors,
  );
  let error = Infinity;
  await expectNoLeaks(async () => {
    const lm = new CausalLM(model, tfWeights, adapter);
    const logits = tf.tidy(() => {
      const h = lm.hidden(tf.tensor2d(tokens, [1, tokens.length], 'int32'));
      return lm.logits(tf.reshape(h, [tokens.length, -1]) as tf.Tensor2D);
    });
    error = relativeError(await logits.data(), referenceLogits(model, weights, tokens, ref));
    logits.dispose();
  });
  adapter.dispose();
  tfWeights.forEach((t) => t.dispose());
  return error;
}

/** q_proj and v_proj of both layers of the tiny GQA Llama (C 32, H 4 × D 8, K 2 × D 8). */
function llamaModules(rOf: (path: string) => number, scaleOf: (path: string) => number) {
  return [0, 1].flatMap((l) =>
    (['q_proj', 'v_proj'] as const).map((p) => {
      const path = `model.layers.${l}.self_attn.${p}`;
      return {
        module: path,
        path,
        inF: 32,
        outF: p === 'q_proj' ? 32 : 16,
        r: rOf(path),
        scale: scaleOf(path),
      };
    }),
  );
}

describe('PEFT import, from an adapter written to PEFT’s layout by hand', () => {
  it('a plain LoRA adapter (r 2, lora_alpha 16: scale 8) gives the merged model’s logits', async () => {
    const mods = llamaModules(
      () => 2,
      () => 16 / 2,
    );
    const config = handAdapterConfig('tiny-llama', { r: 2, lora_alpha: 16 });
    expect(await importedLogitsError('llamaGqa', mods, config)).toBeLessThan(1e-4);
  });

  it('rank_pattern and alpha_pattern give those modules their own rank and scale', async () => {
    // v_proj (both layers): r 3 from rank_pattern, alpha 16 → scale 16/3.
    // layer 1's q_proj: alpha 24 from alpha_pattern, r 2 → scale 12. Layer 0's q_proj: 16/2 = 8.
    const rOf = (path: string) => (path.endsWith('v_proj') ? 3 : 2);
    const alphaOf = (path: string) => (path === 'model.layers.1.self_attn.q_proj' ? 24 : 16);
    const mods = llamaModules(rOf, (p) => alphaOf(p) / rOf(p));
    const config = handAdapterConfig('tiny-llama', {
      r: 2,
      lora_alpha: 16,
      rank_pattern: { v_proj: 3 },
      alpha_pattern: { 'layers.1.self_attn.q_proj': 24 },
    });
    expect(await importedLogitsError('llamaGqa', mods, config)).toBeLessThan(1e-4);
  });

  it('a rank in the file that its rank_pattern does not give is refused', () => {
    const { config: model } = tinyModel('llamaGqa');
    const mods = llamaModules(
      () => 2,
      () => 8,
    );
    const bytes = handSafetensors(factors(mods).hand);
    const config = handAdapterConfig('tiny-llama', { r: 2, rank_pattern: { q_proj: 4 } });
    expect(() => readPeftAdapter(model, bytes, config)).toThrow(InvalidFileError);
    expect(() => readPeftAdapter(model, bytes, config)).toThrow(
      /model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight has shape \[2, 32\], expected \[4, 32\]/,
    );
  });

  it('GPT-2: keys with the transformer. prefix and fan_in_fan_out (A [r, in], B [out, r]) import', async () => {
    const mods = [0, 1].map((l) => ({
      module: `transformer.h.${l}.attn.c_attn`,
      path: `h.${l}.attn.c_attn`,
      inF: 32,
      outF: 96,
      r: 2,
      scale: 4,
    }));
    const config = handAdapterConfig('tiny-gpt2', {
      r: 2,
      lora_alpha: 8,
      fan_in_fan_out: true,
      target_modules: ['c_attn'],
    });
    expect(await importedLogitsError('gpt2', mods, config)).toBeLessThan(1e-4);
  });
});

describe('PEFT export of a GPT-2 adapter', () => {
  it('writes transformer.-prefixed keys (lm_head without), A [r, in] / B [out, r], fan_in_fan_out true', async () => {
    const { config: model } = tinyModel('gpt2'); // C 32, MLP 128, V 50
    const adapter = LoraAdapter.create(model, {
      rank: 2,
      alpha: 8,
      targets: ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj', 'lm_head'],
      seed: 1,
    });
    const out = writePeftAdapter(model, 'tiny-gpt2', {
      rank: 2,
      alpha: 8,
      targets: adapter.config.targets,
      factors: await adapter.toArrays(),
    });
    adapter.dispose();
    const shapes = Object.fromEntries(
      parseSafetensorsHeader(out.weights).tensors.map((t) => [t.name, t.shape]),
    );
    const key = (m: string, w: 'A' | 'B') => `base_model.model.${m}.lora_${w}.weight`;
    expect(shapes[key('transformer.h.0.attn.c_attn', 'A')]).toEqual([2, 32]);
    expect(shapes[key('transformer.h.0.attn.c_attn', 'B')]).toEqual([96, 2]);
    expect(shapes[key('transformer.h.1.attn.c_proj', 'B')]).toEqual([32, 2]);
    expect(shapes[key('transformer.h.1.mlp.c_fc', 'A')]).toEqual([2, 32]);
    expect(shapes[key('transformer.h.1.mlp.c_proj', 'A')]).toEqual([2, 128]);
    expect(shapes[key('lm_head', 'B')]).toEqual([50, 2]);
    expect(Object.keys(shapes).filter((k) => !k.startsWith('__'))).toHaveLength(2 * (4 * 2 + 1));
    expect(out.config).toMatchObject({
      peft_type: 'LORA',
      r: 2,
      lora_alpha: 8,
      fan_in_fan_out: true,
      target_modules: ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj', 'lm_head'],
    });
  });
});
