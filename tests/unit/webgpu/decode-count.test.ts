// What one decoded token costs per layer with our kernels (issue 13: ≤ 15 kernels per layer): the
// LoRA projections one dispatch each (x·Aᵀ inside the GEMM: no tape, one row tile) and the residual
// adds inside the o / down (GPT-2: c_proj) GEMMs. LoRA on every projection of the tiny models;
// tokens and log-probs equal the stock-op path's (kernels off) on the same device.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseSamplingParams } from '../../../src/core/sampling-params';
import { LmDecoder } from '../../../src/model/lm-decoder';
import { disposeRopeTables } from '../../../src/model/rope';
import type { ProjectionName } from '../../../src/model/weight-names';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { decode, type DecodedSequence } from '../../../src/sampling/decode-loop';
import { engineFixture, type EngineFixture } from '../../helpers/model-fixtures';
import type { TinyModelName } from '../../helpers/tiny-models';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const prompt = [1, 7, 19, 3, 30];
const LLAMA: ProjectionName[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];
const LLAMA_MLP: ProjectionName[] = ['gate_proj', 'up_proj', 'down_proj'];
const GPT2: ProjectionName[] = ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj'];

function sample(f: EngineFixture, seed: number, batch: number): Promise<DecodedSequence[]> {
  const params = normaliseSamplingParams(
    { temperature: 1, seed, max_tokens: 3 },
    { vocabSize: f.config.vocabSize, eosTokenIds: [] },
  );
  return decode(new LmDecoder(f.model), prompt, batch, params, () => '');
}

/** The decoder's prefill and `steps` device steps on a fixed token tensor; no sampling. */
function modelOnly(f: EngineFixture, batch: number, steps: number): void {
  const { session, lastLogits } = new LmDecoder(f.model).prefillOnDevice(prompt, batch);
  lastLogits.dispose();
  const tokens = tf.tensor1d(new Int32Array(batch).fill(3), 'int32');
  for (let i = 0; i < steps; i++) session.stepOnDevice(tokens).dispose();
  tokens.dispose();
  session.dispose();
}

interface Case {
  readonly model: TinyModelName;
  readonly targets: ProjectionName[];
  readonly perLayer: number;
  /** Dispatches outside the layers, and how many of them are stock elementwise programs. */
  readonly outside: number;
  readonly outsideBinary: number;
  /** Uploads per step (GPT-2: its position ids, for the learned-position gather). */
  readonly uploads: number;
}

const cases: Case[] = [
  // Per layer: 2 norms, 7 GEMMs (o and down with the residual), kv-cache write with RoPE,
  // attention, SwiGLU. Outside: the embedding gather, the final norm, the unembedding (our GEMM
  // on the float32 table too).
  {
    model: 'llamaGqa',
    targets: [...LLAMA, ...LLAMA_MLP],
    perLayer: 12,
    outside: 3,
    outsideBinary: 0,
    uploads: 0,
  },
  // Per layer: 2 layer norms, 4 GEMMs (both c_proj with the residual), kv-cache write,
  // attention, GELU. Outside as Llama: the learned positions are added in the embedding's
  // gather (kernels/gather-rows.ts), from the offset (no uploaded position ids).
  { model: 'gpt2', targets: GPT2, perLayer: 9, outside: 3, outsideBinary: 0, uploads: 0 },
];

describe('one decoded token per layer (Dawn, LoRA on every projection)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(async () => {
    disposeRopeTables();
    await useCpuAgain();
  });

  for (const c of cases) {
    it(
      `${c.model}: ${c.perLayer} dispatches per layer, no elementwise stock program; same tokens as kernels off`,
      {
        timeout: 600_000,
      },
      async () => {
        const f = engineFixture(c.model, { targets: c.targets, rank: 2 });
        try {
          for (const batch of [1, 3]) {
            const ours = await sample(f, 5 + batch, batch);
            const stock = await withGpuKernels(false, () => sample(f, 5 + batch, batch));
            expect(ours.map((s) => s.tokens)).toEqual(stock.map((s) => s.tokens));
            ours.forEach((s, i) =>
              s.logprobs.forEach((lp, j) =>
                expect(Math.abs(lp - (stock[i]?.logprobs[j] as number))).toBeLessThan(1e-5),
              ),
            );
            modelOnly(f, batch, 1); // first use: caches, pipelines
            const one = await countGpuWork(() => modelOnly(f, batch, 1));
            const two = await countGpuWork(() => modelOnly(f, batch, 2));
            const step = {
              dispatches: two.work.dispatches - one.work.dispatches,
              uploads: two.work.uploads - one.work.uploads,
              readbacks: two.work.readbacks - one.work.readbacks,
            };
            const L = f.config.numLayers;
            const ourGemms = Object.entries(two.work.ours)
              .filter(([k]) => k.startsWith('gemm-'))
              .reduce((s, [k, v]) => s + v - (one.work.ours[k] ?? 0), 0);
            console.log(
              `${c.model} batch ${batch}: one decode step ${step.dispatches} dispatches over ${L} layers; ` +
                `ours ${JSON.stringify(two.work.ours)}, stock ${JSON.stringify(two.work.stock)} (two steps)`,
            );
            expect(step.dispatches).toBe(L * c.perLayer + c.outside);
            expect(ourGemms).toBe(L * c.targets.length + 1); // + the unembedding
            const stepBinary =
              (two.work.stock.BinaryOpProgram ?? 0) - (one.work.stock.BinaryOpProgram ?? 0);
            expect(stepBinary).toBe(c.outsideBinary);
            expect(step.uploads).toBe(c.uploads);
            expect(step.readbacks).toBe(0);
          }
        } finally {
          f.dispose();
        }
      },
    );
  }
});
