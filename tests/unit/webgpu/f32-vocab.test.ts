// A float32 vocab table on webgpu with our kernels (Dawn over SwiftShader): the unembedding of
// src/model/target-logprobs.ts takes the same kernels as a bf16-packed table (packed-vocab.ts:
// our GEMM with float32 B, the LoRA term in the logits' dispatch, our gather for the target rows)
// instead of TF.js's MatMul and Gather programs. Checked three ways:
// - targetLogprobs itself (whole table and 3 parts, chunks that cut, with and without a LoRA on
//   the unembedding, trained and frozen table): log-probs and the gradients w.r.t. h, A, B and W
//   against a float64 plain-TypeScript reference and against the stock ops (our kernels off);
//   and a count: no stock MatMul or Gather program runs, forward or backward.
// - tiny models (tied and untied, LoRA on lm_head or not, full-parameter training of the table):
//   loss and gradients with our kernels = the stock ops on webgpu = the cpu backend.
// - bench:peer's config (i) family (GPT-2, tied, F32): a whole LoRA step runs no stock MatMul or
//   Gather program.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoraAdapter } from '../../../src/lora/adapter';
import { CausalLM } from '../../../src/model/causal-lm';
import { disposeRopeTables } from '../../../src/model/rope';
import { targetLogprobs } from '../../../src/model/target-logprobs';
import type { ProjectionName } from '../../../src/model/weight-names';
import { vocabTableNames } from '../../../src/model/weight-parts';
import { countGpuWork, type GpuWork } from '../../../src/runtime/webgpu/counters';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { relativeError } from '../../helpers/model-fixtures';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { tinyModel, type TinyModelName } from '../../helpers/tiny-models';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

/** Stock programs that must not run in the unembedding with our kernels. */
const PRODUCTS = /MatMul|Gather/;
const stockProducts = (work: GpuWork) => Object.keys(work.stock).filter((k) => PRODUCTS.test(k));

// ---------------------------------------------------------------------------------------------
// targetLogprobs on its own

const [N, C, V] = [7, 16, 21];
const TARGETS = [3, 20, -100, 8, 15, 0, 9];
const G = [0.5, -1.2, 0.9, 1.0, 0.7, -0.4, 1.1];
const SCALE = 2;

interface Reference {
  loss: number;
  dh: Float64Array;
  dA: Float64Array | null;
  dB: Float64Array | null;
  dW: Float64Array;
}

/**
 * Σ g·lp and its gradients in float64, for hA = s·h·Aᵀ, logits = h·Wᵀ + hA·Bᵀ, lp = logits[t] −
 * logsumexp(logits) (0 for t < 0). h [N, C], W [V, C], A [R, C], B [V, R], row-major.
 */
function reference(
  h: Float32Array,
  w: Float32Array,
  a: Float32Array | null,
  b: Float32Array | null,
  R: number,
): Reference {
  const hA = new Float64Array(N * R);
  for (let n = 0; n < N; n++)
    for (let r = 0; r < R; r++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += h[n * C + c]! * a![r * C + c]!;
      hA[n * R + r] = SCALE * s;
    }
  const dLogits = new Float64Array(N * V);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const row = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += h[n * C + c]! * w[v * C + c]!;
      for (let r = 0; r < R; r++) s += hA[n * R + r]! * b![v * R + r]!;
      row[v] = s;
    }
    const t = TARGETS[n]!;
    if (t < 0) continue;
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
    loss += G[n]! * (row[t]! - lse);
    for (let v = 0; v < V; v++)
      dLogits[n * V + v] = G[n]! * ((v === t ? 1 : 0) - Math.exp(row[v]! - lse));
  }
  const dh = new Float64Array(N * C);
  const dhA = new Float64Array(N * R);
  const dW = new Float64Array(V * C);
  const dB = new Float64Array(V * R);
  for (let n = 0; n < N; n++)
    for (let v = 0; v < V; v++) {
      const d = dLogits[n * V + v]!;
      for (let c = 0; c < C; c++) {
        dh[n * C + c]! += d * w[v * C + c]!;
        dW[v * C + c]! += d * h[n * C + c]!;
      }
      for (let r = 0; r < R; r++) {
        dhA[n * R + r]! += d * b![v * R + r]!;
        dB[v * R + r]! += d * hA[n * R + r]!;
      }
    }
  // Through hA = s·h·Aᵀ: ∂h += s·∂hA·A, ∂A = s·∂hAᵀ·h.
  const dA = new Float64Array(R * C);
  for (let n = 0; n < N; n++)
    for (let r = 0; r < R; r++)
      for (let c = 0; c < C; c++) {
        dh[n * C + c]! += SCALE * dhA[n * R + r]! * a![r * C + c]!;
        dA[r * C + c]! += SCALE * dhA[n * R + r]! * h[n * C + c]!;
      }
  return { loss, dh, dA: R ? dA : null, dB: R ? dB : null, dW };
}

interface Case {
  name: string;
  /** Rows per part (one part: the whole table). */
  perPart: number;
  /** LoRA rank on the unembedding (0: none). 4 takes our gather kernel for B's rows, 2 not. */
  rank: number;
  trainWeight: boolean;
}

const CASES: Case[] = [
  {
    name: 'whole table, no LoRA, frozen (bench:peer (i))',
    perPart: V,
    rank: 0,
    trainWeight: false,
  },
  { name: 'whole table, LoRA r4, trained', perPart: V, rank: 4, trainWeight: true },
  { name: '3 parts, LoRA r2, frozen', perPart: 8, rank: 2, trainWeight: false },
  { name: '3 parts, no LoRA, trained', perPart: 8, rank: 0, trainWeight: true },
];

/** [loss, ∂h, (∂A, ∂B), (∂W_p …)] of Σ g·lp, chunks of 3 rows (so chunks and parts both cut). */
function lossAndGrads(
  h: tf.Tensor2D,
  parts: tf.Tensor2D[],
  lora: { a: tf.Tensor2D; b: tf.Tensor2D } | null,
  trainWeight: boolean,
): tf.Tensor[] {
  return tf.tidy(() => {
    const targets = tf.tensor1d(TARGETS, 'int32');
    const g = tf.tensor1d(G);
    const f = (...xs: tf.Tensor[]) => {
      const [hh, ...rest] = xs as tf.Tensor2D[];
      const [aa, bb] = lora ? rest.splice(0, 2) : [null, null];
      const ws = trainWeight ? rest : parts;
      const unembedLora =
        aa && bb
          ? { hA: tf.mul(tf.matMul(hh!, aa, false, true), SCALE) as tf.Tensor2D, b: bb }
          : null;
      const lp = targetLogprobs(hh!, ws, targets, unembedLora, { chunkRows: 3, trainWeight });
      return tf.sum(tf.mul(lp, g)) as tf.Scalar;
    };
    const xs = [h, ...(lora ? [lora.a, lora.b] : []), ...(trainWeight ? parts : [])];
    const { value, grads } = tf.valueAndGrads(f)(xs);
    return [value, ...grads];
  });
}

describe('float32 vocab table on our WebGPU kernels (Dawn)', () => {
  beforeAll(useWebGpuBackend, 120_000);
  afterAll(useCpuAgain);

  for (const c of CASES) {
    it(`${c.name}: log-probs and gradients = float64 reference = stock ops, no stock MatMul/Gather`, async () => {
      const R = c.rank;
      const hData = seededArray(N * C, 6, 1);
      const wData = seededArray(V * C, 5, 1);
      const aData = R ? seededArray(R * C, 7, 0.5) : null;
      const bData = R ? seededArray(V * R, 8, 0.5) : null;
      const want = reference(hData, wData, aData, bData, R);
      const h = tf.tensor2d(hData, [N, C]);
      const parts: tf.Tensor2D[] = [];
      for (let s = 0; s < V; s += c.perPart) {
        const rows = Math.min(c.perPart, V - s);
        parts.push(tf.tensor2d(wData.subarray(s * C, (s + rows) * C), [rows, C]));
      }
      const lora = R ? { a: tf.tensor2d(aData!, [R, C]), b: tf.tensor2d(bData!, [V, R]) } : null;
      const names = ['loss', 'dh', ...(R ? ['dA', 'dB'] : []), ...(c.trainWeight ? ['dW'] : [])];
      const wanted = [[want.loss], want.dh, ...(R ? [want.dA!, want.dB!] : []), want.dW];

      await expectNoLeaks(async () => {
        const stock = await withGpuKernels(false, () =>
          lossAndGrads(h, parts, lora, c.trainWeight),
        );
        const { result: ours, work } = await countGpuWork(() =>
          Promise.resolve(lossAndGrads(h, parts, lora, c.trainWeight)),
        );
        const flat = async (ts: tf.Tensor[]) => {
          const arrays = await Promise.all(ts.map((t) => t.data()));
          // ∂W over parts: one array in row order.
          const head = arrays.slice(0, names.length - (c.trainWeight ? 1 : 0));
          if (!c.trainWeight) return head;
          const dW = arrays.slice(head.length);
          return [...head, Float32Array.from(dW.flatMap((x) => Array.from(x)))];
        };
        const [got, base] = [await flat(ours), await flat(stock)];
        names.forEach((name, i) => {
          const ref = wanted[i]!;
          expect(relativeError(got[i]!, ref), `ours ${name} vs float64`).toBeLessThan(1e-5);
          expect(relativeError(base[i]!, ref), `stock ${name} vs float64`).toBeLessThan(1e-5);
          expect(relativeError(got[i]!, base[i]!), `ours ${name} vs stock`).toBeLessThan(1e-5);
          expect(Math.max(...Array.from(ref, Math.abs)), `${name} not all zero`).toBeGreaterThan(
            1e-3,
          );
        });
        // The caller's hA = s·h·Aᵀ (and its gradient) is stock here; the unembedding is ours.
        if (!R) expect(stockProducts(work)).toEqual([]);
        expect(Object.keys(work.ours).some((k) => k.startsWith('gemm-'))).toBe(true);
        expect(Object.keys(work.ours).some((k) => k.startsWith('gather-rows'))).toBe(true);
        tf.dispose([...stock, ...ours]);
      });
      tf.dispose([h, ...parts, ...(lora ? [lora.a, lora.b] : [])]);
    }, 120_000);
  }

  it('with a LoRA (hA and B given): forward and backward run no stock MatMul or Gather', async () => {
    // hA a leaf here, so the count holds the unembedding only: logits with hA·Bᵀ in the GEMM's
    // dispatch, B's target rows by our gather (R 4), ∂hA = ∂logits·B, ∂B = ∂logitsᵀ·hA.
    const R = 4;
    const h = tf.tensor2d(seededArray(N * C, 1, 1), [N, C]);
    const hA = tf.tensor2d(seededArray(N * R, 2, 1), [N, R]);
    const b = tf.tensor2d(seededArray(V * R, 3, 0.5), [V, R]);
    const w = tf.tensor2d(seededArray(V * C, 4, 1), [V, C]);
    const targets = tf.tensor1d(TARGETS, 'int32');
    const run = () =>
      tf.tidy(() => {
        const f = (hh: tf.Tensor, a: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(
            targetLogprobs(
              hh as tf.Tensor2D,
              w,
              targets,
              { hA: a as tf.Tensor2D, b: bb as tf.Tensor2D },
              {
                chunkRows: 4,
                trainWeight: false,
              },
            ),
          ) as tf.Scalar;
        const { value, grads } = tf.valueAndGrads(f)([h, hA, b]);
        return [value, ...grads];
      });
    const stock = await withGpuKernels(false, run);
    const { result: ours, work } = await countGpuWork(() => Promise.resolve(run()));
    expect(stockProducts(work)).toEqual([]);
    for (let i = 0; i < ours.length; i++) {
      expect(relativeError(await ours[i]!.data(), await stock[i]!.data())).toBeLessThan(1e-5);
    }
    tf.dispose([...ours, ...stock, h, hA, b, w, targets]);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// Tiny models, float32 tables: our kernels = stock ops = cpu

const tokens = [
  [3, 17, 5, 9, 22, 1, 4, 8],
  [7, 2, 30, 11, 6, 13, 21, 0],
];
const targets = [
  [17, 5, 9, 22, 1, 4, 8, -100],
  [2, 30, 11, 6, 13, 21, 0, 12],
];

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

interface ModelStep {
  loss: number;
  grads: Float32Array[];
  work: GpuWork;
}

/** −Σ lp over valid targets, B 2 × T 8, chunks of 5 rows; gradients of the LoRA or the tables. */
async function modelStep(c: ModelCase): Promise<ModelStep> {
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
  const { result, work } = await countGpuWork(() =>
    tf.variableGrads(() => {
      const t = tf.tensor2d(targets, undefined, 'int32');
      const lp = model.targetLogprobs(tf.tensor2d(tokens, undefined, 'int32'), t);
      return tf.neg(tf.sum(lp)) as tf.Scalar;
    }, vars),
  );
  const out = {
    loss: (await result.value.data())[0]!,
    grads: await Promise.all(
      vars.map(async (v) => (await result.grads[v.name]!.data()) as Float32Array),
    ),
    work,
  };
  tf.dispose([result.value, ...Object.values(result.grads)]);
  adapter?.dispose();
  for (const t of tfWeights.values()) t.dispose();
  disposeRopeTables();
  return out;
}

describe('tiny models with float32 vocab tables: our kernels = stock ops (webgpu) = cpu', () => {
  const cpu = new Map<string, ModelStep>();

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
    expect(work.ours['gather-rows-vec4']).toBeGreaterThanOrEqual(2); // the embedding, the targets
  }, 300_000);
});
