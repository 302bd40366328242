// Real widths, one layer: SmolLM2-135M's config with num_hidden_layers 1 (C 576, 9 query and 3
// kv heads of 64, F 1536, V 49,152, tied embeddings), random weights at those shapes on the CPU
// backend. One forward of 1×8 tokens, one LoRA backward checked along its own direction, two
// KV-cached decode steps against a full recompute, and every tensor freed. The tiny-model tests
// check the maths against a float64 reference; this checks that nothing breaks at real widths.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../../src/lora/adapter';
import { CausalLM } from '../../src/model/causal-lm';
import { parseModelConfig } from '../../src/model/config';
import { KNOWN_CONFIGS } from '../../src/model/known-configs';
import { LmDecoder } from '../../src/model/lm-decoder';
import { generateRandomWeights } from '../../src/model/random-weights';
import { expectNoLeaks, useCpuBackend } from '../helpers/tf-node';

const config = parseModelConfig({
  ...KNOWN_CONFIGS['HuggingFaceTB/SmolLM2-135M'],
  num_hidden_layers: 1,
});
const tokens = [17, 4242, 901, 33000, 5, 12345, 48000, 777];
const targets = [4242, 901, 33000, 5, 12345, 48000, 777, 2024]; // tokens shifted by one

let startTensors = 0;
const weights = new Map<string, tf.Tensor>();
let parameters = 0;

beforeAll(async () => {
  await useCpuBackend();
  startTensors = tf.memory().numTensors;
  for (const t of generateRandomWeights(config, 7)) {
    weights.set(t.name, tf.tensor(t.data, t.shape, 'float32'));
    parameters += t.data.length;
  }
});

afterAll(() => {
  for (const t of weights.values()) t.dispose();
  expect(tf.memory().numTensors, 'tensors left after disposing the weights').toBe(startTensors);
});

/** Σ lp for the fixed batch, as a number. */
function sumLogprobs(model: CausalLM): number {
  return tf.tidy(() => {
    const lp = model.targetLogprobs(
      tf.tensor2d([tokens], [1, 8], 'int32'),
      tf.tensor2d([targets], [1, 8], 'int32'),
    );
    return tf.sum(lp).dataSync()[0] as number;
  });
}

describe('SmolLM2-135M widths, 1 layer, cpu backend', () => {
  it('has the parameter count its shapes imply', () => {
    // Embedding 49,152·576 = 28,311,552; per layer q 576·576 + k 192·576 + v 192·576 + o 576·576
    // + gate, up, down 3·1536·576 + two norms 2·576 = 3,540,096; final norm 576. (30 layers of the
    // same give 134,515,008, the count known-configs.ts records for the real model.)
    expect(parameters).toBe(28_311_552 + 3_540_096 + 576);
  });

  it('forward: a fresh adapter changes nothing, log-probs near −(ln V + σ²/2)', async () => {
    const targetsAll = targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: true });
    await expectNoLeaks(() => {
      const adapter = LoraAdapter.create(config, {
        rank: 8,
        alpha: DEFAULT_LORA_ALPHA,
        targets: targetsAll,
        seed: 3,
      });
      try {
        const [withLora, base] = [
          new CausalLM(config, weights, adapter),
          new CausalLM(config, weights),
        ].map((m) =>
          tf.tidy(() =>
            m
              .targetLogprobs(
                tf.tensor2d([tokens], [1, 8], 'int32'),
                tf.tensor2d([targets], [1, 8], 'int32'),
              )
              .dataSync(),
          ),
        ) as [Float32Array, Float32Array];
        // B = 0, so every LoRA term adds exactly 0.
        expect(Array.from(withLora)).toEqual(Array.from(base));
        // The final RMSNorm leaves h with RMS ≈ 1, so |h|² ≈ C = 576, and each logit h·E_v with
        // E_v ~ N(0, 0.02²) is ≈ N(0, σ²), σ = 0.02·√576 = 0.48. Then logsumexp ≈ ln V + σ²/2 =
        // 10.803 + 0.115, and lp = z_t − lse has mean −10.918 and std 0.48; the mean of 8 has
        // std 0.17, and 0.6 is 3.5 of those.
        const mean = base.reduce((s, v) => s + v, 0) / base.length;
        console.log(
          `mean lp ${mean.toFixed(4)}, predicted ${(-Math.log(config.vocabSize) - 0.48 ** 2 / 2).toFixed(4)}`,
        );
        expect(Math.abs(mean + Math.log(config.vocabSize) + 0.48 ** 2 / 2)).toBeLessThan(0.6);
      } finally {
        adapter.dispose();
      }
    });
  });

  it('backward: A gradients vanish at B = 0, and the B gradient predicts the loss along itself', async () => {
    const targetsAll = targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: true });
    await expectNoLeaks(() => {
      const adapter = LoraAdapter.create(config, {
        rank: 8,
        alpha: DEFAULT_LORA_ALPHA,
        targets: targetsAll,
        seed: 3,
      });
      const model = new CausalLM(config, weights, adapter);
      const { value, grads } = tf.variableGrads(
        () =>
          tf.sum(
            model.targetLogprobs(
              tf.tensor2d([tokens], [1, 8], 'int32'),
              tf.tensor2d([targets], [1, 8], 'int32'),
            ),
          ) as tf.Scalar,
        adapter.variables,
      );
      try {
        expect(Number.isFinite(value.dataSync()[0])).toBe(true);
        let normSq = 0;
        for (const m of adapter.modules.values()) {
          // y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ, so ∂L/∂A = s·(∂L/∂y·B)ᵀ·x = 0 while B = 0.
          expect(tf.tidy(() => tf.max(tf.abs(grads[m.a.name]!)).dataSync()[0])).toBe(0);
          const gB = grads[m.b.name]!.dataSync() as Float32Array;
          expect(gB.every((v) => Number.isFinite(v))).toBe(true);
          normSq += gB.reduce((s, v) => s + v * v, 0);
        }
        expect(normSq).toBeGreaterThan(0);
        // Central difference along g = ∂L/∂B (every B at once): (L(B + εg) − L(B − εg)) / 2 =
        // ε·|g|² + O(ε³), the second-order term cancelling. ε·|g|² = 0.5 keeps float32 rounding of
        // L (|L| ≈ 87, so about 1e-5) far below the difference; 2% bounds the ε³ term.
        const eps = 0.5 / normSq;
        const shifted = (sign: number) => {
          for (const m of adapter.modules.values()) {
            tf.tidy(() => m.b.assign(tf.mul(grads[m.b.name]!, sign * eps)));
          }
          return sumLogprobs(model);
        };
        const central = (shifted(1) - shifted(-1)) / 2;
        for (const m of adapter.modules.values()) tf.tidy(() => m.b.assign(tf.zerosLike(m.b)));
        console.log(
          `directional derivative: central difference / ε|g|² = ${(central / 0.5).toFixed(5)}`,
        );
        expect(Math.abs(central / 0.5 - 1)).toBeLessThan(0.02);
      } finally {
        tf.dispose([value, ...Object.values(grads)]);
        adapter.dispose();
      }
    });
  });

  it('decode: two KV-cached steps give the logits of a full recompute', async () => {
    const model = new CausalLM(config, weights);
    await expectNoLeaks(async () => {
      const prompt = tokens.slice(0, 6);
      const { session } = await new LmDecoder(model).prefill(prompt, 1);
      try {
        const stepped = [await session.step([tokens[6]!]), await session.step([tokens[7]!])];
        for (const [i, got] of stepped.entries()) {
          const full = tf.tidy(() => {
            const seq = tokens.slice(0, 7 + i);
            const h = model.hidden(tf.tensor2d([seq], [1, seq.length], 'int32')); // [1, T, C]
            const last = tf.reshape(
              tf.slice(h, [0, seq.length - 1, 0], [1, 1, -1]),
              [1, -1],
            ) as tf.Tensor2D;
            return model.logits(last).dataSync(); // [V]
          });
          expect(got.length).toBe(config.vocabSize);
          // Same products in another grouping: float32 rounding of logits of size ~0.5 is ~1e-7.
          let worst = 0;
          for (let v = 0; v < full.length; v++)
            worst = Math.max(worst, Math.abs(got[v]! - full[v]!));
          console.log(
            `decode step ${i + 1}: worst |cached − recomputed| logit ${worst.toExponential(2)}`,
          );
          expect(worst).toBeLessThan(1e-4);
        }
      } finally {
        session.dispose();
      }
    });
  });
});
