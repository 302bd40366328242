// Tiny models with float32 vocab tables on webgpu (Dawn over SwiftShader): with our kernels the
// unembedding takes packed-vocab.ts's kernels for a float32 table too (f32-vocab.test.ts tests
// targetLogprobs itself). Tied and untied, a LoRA on lm_head or not, full-parameter training of
// the tables: loss and gradients with our kernels = the stock ops on webgpu = the cpu backend.
// And bench:peer's config (i) family (GPT-2, tied, F32): a LoRA step runs no stock MatMul or
// Gather program.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoraAdapter } from '../../../src/lora/adapter';
import { CausalLM } from '../../../src/model/causal-lm';
import { disposeRopeTables } from '../../../src/model/rope';
import type { ProjectionName } from '../../../src/model/weight-names';
import { vocabTableNames } from '../../../src/model/weight-parts';
import { countGpuWork, type GpuWork } from '../../../src/runtime/webgpu/counters';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { relativeError } from '../../helpers/model-fixtures';
import { seededArray } from '../../helpers/tf-node';
import { tinyModel, type TinyModelName } from '../../helpers/tiny-models';
import { countedStep, type CountedStep } from '../../helpers/counted-step';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

/** Stock programs that must not run in the unembedding with our kernels. */
const PRODUCTS = /MatMul|Gather/;
const stockProducts = (work: GpuWork) => Object.keys(work.stock).filter((k) => PRODUCTS.test(k));

interface ModelCase {
  name: string;
  model: TinyModelName;
  /** LoRA targets (none: full-parameter training of the vocab tables). */
  lora: ProjectionName[] | null;
}

const MODEL_CASES: ModelCase[] = [
  { name: 'llama tied, LoRA on q_proj + lm_head', model: 'llamaTied', lora: ['q_proj', 'lm_head'] },
  { name: 'llama tied, LoRA on q_proj', model: 'llamaTied', lora: ['q_proj'] },
  {
    name: 'llama untied, LoRA on q_proj + lm_head',
    model: 'llamaGqa',
    lora: ['q_proj', 'lm_head'],
  },
  { name: 'llama untied, LoRA on q_proj', model: 'llamaGqa', lora: ['q_proj'] },
  { name: 'gpt2 (tied), LoRA on c_attn + lm_head', model: 'gpt2', lora: ['c_attn', 'lm_head'] },
  { name: 'llama tied, full-parameter (the table trained)', model: 'llamaTied', lora: null },
  { name: 'llama untied, full-parameter (both tables trained)', model: 'llamaGqa', lora: null },
];

/** −Σ lp over valid targets, B 2 × T 8, chunks of 5 rows; gradients of the LoRA or the tables. */
async function modelStep(c: ModelCase): Promise<CountedStep> {
  const { config, weights } = tinyModel(c.model);
  const trainBase = c.lora === null;
  const tables = new Set(vocabTableNames(config));
  const tfWeights = new Map<string, tf.Tensor>();
  for (const [key, t] of weights) {
    const x = tf.tensor(t.data, t.shape);
    tfWeights.set(key, trainBase && tables.has(key) ? tf.variable(x, true, `w/${key}`) : x);
    if (trainBase && tables.has(key)) x.dispose();
  }
  let adapter: LoraAdapter | null = null;
  if (c.lora) {
    adapter = LoraAdapter.create(config, { rank: 4, alpha: 8, targets: c.lora, seed: 7 });
    let seed = 100;
    for (const m of adapter.modules.values()) {
      const noise = tf.tensor2d(seededArray(m.b.size, seed++, 0.6), m.b.shape);
      m.b.assign(noise);
      noise.dispose();
    }
  }
  const vars = adapter
    ? adapter.variables
    : [...tables].map((name) => tfWeights.get(name) as tf.Variable);
  const model = new CausalLM(config, tfWeights, adapter, { trainBase, chunkRows: 5 });
  const out = await countedStep(model, vars, (lp) => tf.neg(tf.sum(lp)));
  adapter?.dispose();
  for (const t of tfWeights.values()) t.dispose();
  disposeRopeTables();
  return out;
}

describe('tiny models with float32 vocab tables: our kernels = stock ops (webgpu) = cpu', () => {
  const cpu = new Map<string, CountedStep>();

  beforeAll(async () => {
    await useCpuAgain();
    for (const c of MODEL_CASES) cpu.set(c.name, await modelStep(c));
    await useWebGpuBackend();
  }, 120_000);
  afterAll(useCpuAgain);

  for (const c of MODEL_CASES) {
    it(`${c.name}: same loss and gradients`, async () => {
      const want = cpu.get(c.name)!;
      const before = tf.memory().numTensors;
      const ours = await modelStep(c);
      expect(tf.memory().numTensors).toBe(before);
      const stock = await withGpuKernels(false, () => modelStep(c));
      for (const [label, got] of [
        ['ours', ours],
        ['stock', stock],
      ] as const) {
        expect(Math.abs(got.loss - want.loss) / Math.abs(want.loss), `${label} loss`).toBeLessThan(
          1e-5,
        );
        got.grads.forEach((g, i) =>
          expect(relativeError(g, want.grads[i]!), `${label} grad ${i}`).toBeLessThan(1e-4),
        );
      }
      ours.grads.forEach((g, i) =>
        expect(Math.max(...Array.from(g, Math.abs)), `grad ${i} not all zero`).toBeGreaterThan(
          1e-4,
        ),
      );
      // A frozen float32 table (LoRA training): the unembedding takes no stock MatMul/Gather, and
      // with the model's other ops on our kernels neither does the step, but for the caller's
      // hA = s·h·Aᵀ of a LoRA on lm_head (a stock matMul and its gradient's).
      if (c.lora && !c.lora.includes('lm_head')) expect(stockProducts(ours.work)).toEqual([]);
    }, 300_000);
  }

  it("bench:peer (i)'s family (GPT-2, tied, F32), LoRA on attention + MLP: no stock MatMul or Gather in the step", async () => {
    const c: ModelCase = {
      name: 'gpt2 attention + MLP',
      model: 'gpt2',
      lora: ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj'],
    };
    const { work } = await modelStep(c);
    expect(stockProducts(work)).toEqual([]);
    expect(work.ours['gather-rows-vec4']).toBe(1); // the embedding (targets: from the logits)
  }, 300_000);

  it('logits for sampling (CausalLM.logits) on a float32 table: our GEMMs only, = stock ops', async () => {
    // One part: 1 GEMM without a LoRA on lm_head, 2 with one (scale·h·Aᵀ, then h·Wᵀ + hA·Bᵀ).
    for (const [model, lora, dispatches] of [
      ['gpt2', ['c_attn'], 1],
      ['llamaGqa', ['q_proj', 'lm_head'], 2],
    ] as const) {
      const { config, weights } = tinyModel(model);
      const tfWeights = new Map([...weights].map(([k, t]) => [k, tf.tensor(t.data, t.shape)]));
      const adapter = LoraAdapter.create(config, {
        rank: 4,
        alpha: 8,
        targets: [...lora],
        seed: 7,
      });
      for (const m of adapter.modules.values()) {
        const noise = tf.tensor2d(seededArray(m.b.size, 5, 0.6), m.b.shape);
        m.b.assign(noise);
        noise.dispose();
      }
      const lm = new CausalLM(config, tfWeights, adapter);
      const rows = tf.tensor2d(seededArray(3 * config.hiddenSize, 9, 1), [3, config.hiddenSize]);
      const { result: ours, work } = await countGpuWork(() => Promise.resolve(lm.logits(rows)));
      expect(work.stock, model).toEqual({});
      expect(work.dispatches, model).toBe(dispatches);
      const stock = await withGpuKernels(false, () => lm.logits(rows));
      expect(relativeError(await ours.data(), await stock.data()), model).toBeLessThan(1e-5);
      tf.dispose([ours, stock, rows, ...tfWeights.values()]);
      adapter.dispose();
    }
  }, 120_000);
});
