// The decode loop's device path (device-tokens.ts) on a tiny model on Dawn: the same tokens as the
// page path (logits read back, choose-token.ts) for several seeds and settings, stops from the read
// ids, and what a decoded token costs: one readback of ids + log-probs, no upload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  normaliseSamplingParams,
  type SamplingParamsInput,
} from '../../../src/core/sampling-params';
import { LmDecoder } from '../../../src/model/lm-decoder';
import { disposeRopeTables } from '../../../src/model/rope';
import * as tf from '@tensorflow/tfjs';
import { webgpuBackend } from '../../../src/runtime/webgpu/backend-internals';
import { countGpuWork, type GpuWork } from '../../../src/runtime/webgpu/counters';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { decode, type DecodedSequence } from '../../../src/sampling/decode-loop';
import { engineFixture, type EngineFixture } from '../../helpers/model-fixtures';
import { expectNoLeaks } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const prompt = [1, 7, 19, 3, 30];
const noText = (): string => '';

let f: EngineFixture;

function run(
  input: SamplingParamsInput,
  numSamples: number,
  eos: readonly number[] = [],
  fixture: EngineFixture = f,
): Promise<DecodedSequence[]> {
  const params = normaliseSamplingParams(input, {
    vocabSize: fixture.config.vocabSize,
    eosTokenIds: eos,
  });
  return decode(new LmDecoder(fixture.model), prompt, numSamples, params, noText);
}

/**
 * Ours against the page path on the same logits up to rounding (V = 48): a draw flips only when
 * it lands within ~1e-6 of a cumulative boundary, about 48 · 1e-6 per draw, so these fixed seeds
 * agree; log-probs differ by float32 rounding of the log-sum-exp.
 */
function expectSameSequences(ours: DecodedSequence[], page: DecodedSequence[]): void {
  expect(ours.map((s) => s.tokens)).toEqual(page.map((s) => s.tokens));
  expect(ours.map((s) => s.stop_reason)).toEqual(page.map((s) => s.stop_reason));
  ours.forEach((s, i) =>
    s.logprobs.forEach((lp, j) =>
      expect(Math.abs(lp - (page[i]?.logprobs[j] as number))).toBeLessThan(1e-5),
    ),
  );
}

describe('decode with sampling on the device (Dawn, llama GQA tiny, LoRA on q/v/lm_head)', () => {
  beforeAll(async () => {
    await useWebGpuBackend();
    f = engineFixture('llamaGqa', { targets: ['q_proj', 'v_proj', 'lm_head'], rank: 2 });
    // The model's caches (device RoPE tables) are made on first use: make them before anything
    // counts tensors or uploads.
    await run({ temperature: 0, max_tokens: 2 }, 2);
  }, 300_000);
  afterAll(async () => {
    disposeRopeTables();
    f.dispose();
    await useCpuAgain();
  });

  it(
    'gives the page path’s tokens for the same seeds and settings',
    { timeout: 600_000 },
    async () => {
      // Few decodes: on SwiftShader each step is a few hundred stock dispatches.
      const runs: SamplingParamsInput[] = [
        { temperature: 0, seed: 1 },
        { temperature: 1, seed: 1 },
        { temperature: 1, seed: 2 },
        { temperature: 0.7, top_k: 5, seed: 4 },
        { temperature: 1.5, top_k: 20, top_p: 0.9, seed: 6 },
      ];
      for (const r of runs) {
        const input = { ...r, max_tokens: 4 };
        const ours = await expectNoLeaks(() => run(input, 2));
        const page = await withGpuKernels(false, () => run(input, 2));
        expectSameSequences(ours, page);
      }
    },
  );

  it('gives the cpu backend’s tokens for the same seeds', { timeout: 300_000 }, async () => {
    const inputs = [1, 2, 3].map((seed) => ({ temperature: 1, top_k: 30, seed, max_tokens: 4 }));
    const ours: DecodedSequence[][] = [];
    for (const input of inputs) ours.push(await run(input, 2));
    await useCpuAgain();
    const cpu = engineFixture('llamaGqa', { targets: ['q_proj', 'v_proj', 'lm_head'], rank: 2 });
    try {
      for (const [i, input] of inputs.entries()) {
        expectSameSequences(ours[i] as DecodedSequence[], await run(input, 2, [], cpu));
      }
    } finally {
      cpu.dispose();
      await useWebGpuBackend();
    }
  });

  it(
    'stops each sequence on its own EOS / stop ids, read from the chosen ids',
    { timeout: 300_000 },
    async () => {
      // Every id below 16 ends a sequence: with 48 ids and T = 2 most sequences stop early.
      const stops = Array.from({ length: 16 }, (_, i) => i);
      for (const seed of [4]) {
        const input = { temperature: 2, seed, max_tokens: 8, stop: stops.slice(1) };
        const ours = await run(input, 4, [0]);
        const page = await withGpuKernels(false, () => run(input, 4, [0]));
        expectSameSequences(ours, page);
        expect(ours.some((s) => s.stop_reason === 'stop')).toBe(true);
      }
    },
  );

  it(
    'costs one readback of ids + log-probs and no upload per decoded token',
    { timeout: 300_000 },
    async () => {
      const B = 2;
      const choices = 5; // one after the prefill, then one per step
      const steps = choices - 1;
      const input = { temperature: 1, seed: 9, max_tokens: choices };
      const ours = await countReads(() => run(input, B));
      const page = await countReads(() => withGpuKernels(false, () => run(input, B)));
      expect(ours.result.every((s) => s.tokens.length === choices)).toBe(true);
      // The model alone over the same prefill and steps, fed one token tensor uploaded once: what
      // the model itself uploads and dispatches, on each path.
      const model = await countGpuWork(() => modelOnly(B, steps));
      const modelStock = await countGpuWork(() => withGpuKernels(false, () => modelOnly(B, steps)));

      // Readbacks: one per choice on both paths; bytes: [2, B] float32 against [B, V] (prefill [1, V]).
      const V = f.config.vocabSize;
      expect(ours.work.readbacks).toBe(choices);
      expect(page.work.readbacks).toBe(choices);
      expect(ours.bytes).toBe(choices * 2 * B * 4);
      expect(page.bytes).toBe((1 + steps * B) * V * 4);
      // Dispatches: the choice is one kernel per step, nothing else beside the model's own.
      expect(ours.work.ours['sample-rows']).toBe(choices);
      expect(ours.work.dispatches - model.work.dispatches).toBe(choices);
      // Uploads: the device path adds the B xoshiro states once (16 bytes each) where the model-only
      // run uploads its one token tensor; nothing per step. The page path uploads B ids every step.
      expect(ours.work.uploads).toBe(model.work.uploads);
      expect(ours.work.uploadBytes - model.work.uploadBytes).toBe(B * 16 - B * 4);
      expect(page.work.uploads - modelStock.work.uploads).toBe(steps - 1);
      expect(page.work.uploadBytes - modelStock.work.uploadBytes).toBe((steps - 1) * B * 4);
    },
  );
});

/** The decoder's prefill and `steps` device steps on one fixed token tensor; no sampling. */
async function modelOnly(batch: number, steps: number): Promise<void> {
  const decoder = new LmDecoder(f.model);
  const { session, lastLogits } = decoder.prefillOnDevice(prompt, batch);
  const tokens = tf.tensor1d(new Int32Array(batch).fill(3), 'int32');
  lastLogits.dispose();
  for (let i = 0; i < steps; i++) session.stepOnDevice(tokens).dispose();
  tokens.dispose();
  session.dispose();
}

/** countGpuWork plus the bytes of the GPU buffers read back. */
async function countReads<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; work: GpuWork; bytes: number }> {
  const backend = webgpuBackend()!;
  const read = backend.getBufferData;
  let bytes = 0;
  const b = backend as unknown as { getBufferData: typeof read };
  b.getBufferData = function (this: typeof backend, buffer: GPUBuffer) {
    bytes += buffer.size;
    return read.call(this, buffer);
  };
  try {
    const { result, work } = await countGpuWork(fn);
    return { result, work, bytes };
  } finally {
    b.getBufferData = read;
  }
}
