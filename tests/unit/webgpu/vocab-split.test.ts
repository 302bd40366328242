// Vocab tables in row parts (src/model/weight-parts.ts) give the same logits, target log-probs,
// decode logits and gradients as the whole tables, on cpu and on webgpu (Dawn over SwiftShader).
// Two tiny configs with a vocabulary larger than usual so that a forced limit splits each table
// into 3 parts, the last one shorter: Llama tied (V 100, C 16: 40 + 40 + 20 rows at 2560 bytes),
// Qwen3 untied (V 150, C 32: 64 + 64 + 22 rows at 8192 bytes). The loader is tested to create the
// same parts from a BF16 file.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../../src/io/safetensors-writer';
import { loadWeights } from '../../../src/io/weights-loader';
import { CausalLM } from '../../../src/model/causal-lm';
import { parseModelConfig, type ModelConfig } from '../../../src/model/config';
import { LmDecoder } from '../../../src/model/lm-decoder';
import {
  partName,
  vocabTableNames,
  withSplitVocab,
  rowsPerPart,
} from '../../../src/model/weight-parts';
import { UnsupportedModelError } from '../../../src/errors/loops-errors';
import { TINY_CONFIGS, tinyWeights, vocabLoraAdapter } from '../../helpers/tiny-models';
import { useCpuBackend } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const CASES = [
  { name: 'llama tied', json: { ...TINY_CONFIGS.llamaTied, vocab_size: 100 }, perPart: 40 },
  { name: 'qwen3 untied', json: { ...TINY_CONFIGS.qwen3, vocab_size: 150 }, perPart: 64 },
] as const;

const tokens = [3, 47, 5, 99, 62, 41, 1];
const targets = [47, 5, -100, 62, 41, 1, 88];
const lossWeights = [0.5, -1.2, 0.9, 1.0, 0.7, -0.4, 1.1];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function wholeWeights(config: ModelConfig, json: object, asVariables = false) {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of tinyWeights(json, 7)) {
    const tensor = tf.tensor(t.data, t.shape);
    out.set(name, asVariables ? tf.variable(tensor, true, `w/${name}`) : tensor);
    if (asVariables) tensor.dispose();
  }
  expect(out.size).toBeGreaterThan(0);
  void config;
  return out;
}

function lossOf(model: CausalLM) {
  return () => {
    const lp = model.targetLogprobs(
      tf.tensor2d([tokens], [1, tokens.length], 'int32'),
      tf.tensor2d([targets], [1, tokens.length], 'int32'),
    );
    return tf.sum(tf.mul(lp, tf.tensor2d([lossWeights]))) as tf.Scalar;
  };
}

for (const backend of ['cpu', 'webgpu'] as const) {
  // Float32 throughout; the split path sums logsumexps of parts and gathers with masks, so it
  // matches to rounding: 1e-5 on cpu; SwiftShader's exp/log are looser (1e-4).
  const tol = backend === 'cpu' ? 1e-5 : 1e-4;
  describe(`vocab tables in 3 parts (${backend})`, () => {
    beforeAll(backend === 'cpu' ? useCpuBackend : useWebGpuBackend, 120_000);
    afterAll(useCpuAgain);

    for (const c of CASES) {
      it(`${c.name}: logits, log-probs, LoRA gradients and decode match the whole table`, async () => {
        const config = parseModelConfig(c.json);
        const before = tf.memory().numTensors;
        const whole = wholeWeights(config, c.json);
        const split = withSplitVocab(config, whole, c.perPart);
        for (const name of vocabTableNames(config)) {
          expect(split.has(name)).toBe(false);
          expect([0, 1, 2].map((i) => split.get(partName(name, i))?.shape[0])).toEqual([
            c.perPart,
            c.perPart,
            config.vocabSize - 2 * c.perPart,
          ]);
          expect(split.has(partName(name, 3))).toBe(false);
        }
        const adapter = vocabLoraAdapter(config);
        const a = new CausalLM(config, whole, adapter, { chunkRows: 3 });
        const b = new CausalLM(config, split, adapter, { chunkRows: 3 });
        expect(b.unembedTable.parts).toHaveLength(3);

        const ids = tf.tensor2d([tokens], [1, tokens.length], 'int32');
        // Device-side caches our kernels keep for the model's life (RoPE tables on webgpu) are
        // created by the first forward: counted here, not as leaks.
        const beforeWarm = tf.memory().numTensors;
        tf.tidy(() => a.hidden(ids)).dispose();
        const cached = tf.memory().numTensors - beforeWarm;
        const logits = (m: CausalLM) =>
          tf.tidy(() => m.logits(tf.reshape(m.hidden(ids), [tokens.length, -1]) as tf.Tensor2D));
        const [la, lb] = [logits(a), logits(b)];
        expect(lb.shape).toEqual([tokens.length, config.vocabSize]);
        expect(maxAbsDiff(await la.data(), await lb.data())).toBeLessThan(tol);

        const ga = tf.variableGrads(lossOf(a), adapter.variables);
        const gb = tf.variableGrads(lossOf(b), adapter.variables);
        expect(Math.abs((await ga.value.data())[0]! - (await gb.value.data())[0]!)).toBeLessThan(
          tol * 10,
        );
        for (const v of adapter.variables) {
          const [x, y] = [await ga.grads[v.name]!.data(), await gb.grads[v.name]!.data()];
          expect(maxAbsDiff(x, y), v.name).toBeLessThan(tol * 10);
          expect(Math.max(...Array.from(x, Math.abs)), `${v.name} is not all zero`).toBeGreaterThan(
            1e-4,
          );
        }

        const [da, db] = [new LmDecoder(a), new LmDecoder(b)];
        const [pa, pb] = [await da.prefill(tokens, 2), await db.prefill(tokens, 2)];
        expect(maxAbsDiff(pa.lastLogits, pb.lastLogits)).toBeLessThan(tol);
        const [sa, sb] = [
          await pa.session.step([9, 140 % config.vocabSize]),
          await pb.session.step([9, 140 % config.vocabSize]),
        ];
        expect(maxAbsDiff(sa, sb)).toBeLessThan(tol);
        pa.session.dispose();
        pb.session.dispose();

        tf.dispose([la, lb, ids, ga.value, gb.value, ...Object.values(ga.grads)]);
        tf.dispose(Object.values(gb.grads));
        for (const [name, t] of split) if (!whole.has(name)) t.dispose();
        for (const t of whole.values()) t.dispose();
        adapter.dispose();
        expect(tf.memory().numTensors).toBe(before + cached);
      }, 300_000);
    }

    it('full-parameter training: gradients of the parts are the rows of the whole gradient', async () => {
      const c = CASES[0]; // tied: the embedding gets gradients from both the gather and the unembedding
      const config = parseModelConfig(c.json);
      const whole = wholeWeights(config, c.json, true);
      const name = vocabTableNames(config)[0]!;
      const table = whole.get(name) as tf.Variable;
      const parts = [0, 1, 2].map((i) => {
        const rows = Math.min(c.perPart, config.vocabSize - i * c.perPart);
        const slice = tf.slice(table, [i * c.perPart, 0], [rows, -1]);
        const v = tf.variable(slice, true, `part/${i}`);
        slice.dispose();
        return v;
      });
      const split = new Map(whole);
      split.delete(name);
      parts.forEach((p, i) => split.set(partName(name, i), p));
      const a = new CausalLM(config, whole, null, { trainBase: true, chunkRows: 3 });
      const b = new CausalLM(config, split, null, { trainBase: true, chunkRows: 3 });
      const ga = tf.variableGrads(lossOf(a), [table]);
      const gb = tf.variableGrads(lossOf(b), parts);
      const joined = tf.concat(parts.map((p) => gb.grads[p.name]!));
      expect(maxAbsDiff(await ga.grads[table.name]!.data(), await joined.data())).toBeLessThan(
        tol * 10,
      );
      tf.dispose([joined, ga.value, gb.value, ...Object.values(ga.grads)]);
      tf.dispose([...Object.values(gb.grads), ...parts, ...whole.values()]);
    }, 300_000);
  });
}

describe('loading a vocab table in parts', () => {
  beforeAll(useCpuBackend);

  it('the loader creates the same parts from a BF16 file, and the rest whole', async () => {
    const c = CASES[1];
    const config = parseModelConfig(c.json);
    // Values k/64 are exact in BF16, so the whole load and the parts must agree exactly.
    const written = [...tinyWeights(c.json, 5)].map(([name, t]) => ({
      name,
      shape: t.shape,
      data: Float32Array.from(t.data, (v) => Math.round(v * 64) / 64),
      dtype: 'BF16' as const,
    }));
    const file = writeSafetensors(written);
    const folder = {
      hasFile: (n: string) => Promise.resolve(n === 'model.safetensors'),
      readFile: () => Promise.resolve(file),
    };
    const whole = await loadWeights({ config, ...folder });
    const limits = { maxBufferSize: 2 ** 20, maxStorageBufferBindingSize: 8192 };
    const split = await loadWeights({ config, ...folder, limits });
    for (const name of vocabTableNames(config)) {
      expect(split.has(name)).toBe(false);
      const parts = [0, 1, 2].map((i) => split.get(partName(name, i))!);
      expect(parts.map((p) => p.shape)).toEqual([
        [64, 32],
        [64, 32],
        [22, 32],
      ]);
      const joined = tf.concat(parts);
      expect(Array.from(await joined.data())).toEqual(Array.from(await whole.get(name)!.data()));
      joined.dispose();
    }
    expect(split.size).toBe(whole.size + 2 * 2); // two tables, each 3 parts for 1
    for (const t of [...whole.values(), ...split.values()]) t.dispose();
  });

  it('a table whose single row is over the limit: UnsupportedModelError before any read', async () => {
    // Qwen3-0.6B's hidden size 1024: a row is 4096 bytes as float32, over a 2 KiB binding.
    expect(() =>
      rowsPerPart('model.embed_tokens.weight', 151936, 1024, {
        maxBufferSize: 2 ** 30,
        maxStorageBufferBindingSize: 2048,
      }),
    ).toThrow(UnsupportedModelError);
    const config = parseModelConfig(CASES[1].json);
    const reads: string[] = [];
    const load = loadWeights({
      config,
      hasFile: (n) => (reads.push(n), Promise.resolve(true)),
      readFile: (n) => (reads.push(n), Promise.reject(new Error('not reached'))),
      limits: { maxBufferSize: 2 ** 20, maxStorageBufferBindingSize: 100 },
    });
    await expect(load).rejects.toThrow(
      /"model\.embed_tokens\.weight" \[150, 32\] cannot be split to fit this device: one row is 128 bytes as float32, over its maxStorageBufferBindingSize of 100 bytes\. Pick a model with a narrower hidden size, a device with higher limits, or the wasm backend/,
    );
    expect(reads).toEqual([]);
  });
});
