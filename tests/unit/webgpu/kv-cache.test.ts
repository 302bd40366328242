// The preallocated KV cache on webgpu: greedy decoding of the tiny models gives the cpu backend's
// tokens (one sequence, and several samples sharing one prefill), a cache that outgrows its
// capacity still matches, and a decode step's attention part costs two dispatches (RoPE and the
// cache write in one, attention in the other) and no uploads (its tokens are the only upload of
// a step), against the stock concat cache.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attendProjections } from '../../../src/model/attention';
import { KvCache } from '../../../src/model/kv-cache';
import { LmDecoder } from '../../../src/model/lm-decoder';
import { disposeRopeTables, ropeTables } from '../../../src/model/rope';
import { webgpuBackend } from '../../../src/runtime/webgpu/backend-internals';
import { countGpuWork, type GpuWork } from '../../../src/runtime/webgpu/counters';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { engineFixture, relativeError } from '../../helpers/model-fixtures';
import { seededArray } from '../../helpers/seeded';
import type { TinyModelName } from '../../helpers/tiny-models';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const prompt = [3, 17, 5, 9, 22];
const NEW = 8;

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/**
 * Greedy decoding of `batch` sequences: sequence j feeds (argmax + j) mod V, so the samples part
 * ways after the shared prompt. Returns every fed token and all logits, on the current backend.
 */
async function decodeGreedy(name: TinyModelName, batch: number, maxNew?: number) {
  const f = engineFixture(name);
  const decoder = new LmDecoder(f.model);
  const V = f.config.vocabSize;
  const { session, lastLogits } = await decoder.prefill(prompt, batch, maxNew);
  const tokens: number[][] = [];
  const logits: number[] = [...lastLogits];
  let next = Array.from({ length: batch }, (_, j) => (argmax(lastLogits) + j) % V);
  for (let step = 0; step < NEW; step++) {
    tokens.push(next);
    const out = await session.step(next);
    logits.push(...out);
    next = next.map((_, j) => (argmax(out.subarray(j * V, (j + 1) * V)) + j) % V);
  }
  session.dispose();
  f.dispose();
  return { tokens, logits };
}

describe('KV cache on webgpu', () => {
  beforeAll(useWebGpuBackend);
  afterAll(async () => {
    disposeRopeTables();
    await useCpuAgain();
  });

  it.each([
    ['llamaGqa', 1],
    ['llamaGqa', 3],
    ['gpt2', 2],
    ['qwen3', 1],
  ] as const)('%s × %i: greedy tokens and logits equal the cpu backend', async (name, batch) => {
    await tf.setBackend('cpu');
    const cpu = await decodeGreedy(name, batch).finally(() => tf.setBackend('webgpu'));
    disposeRopeTables(); // the device RoPE tables are a cache that outlives a call
    const before = tf.memory().numTensors;
    const gpu = await decodeGreedy(name, batch, NEW);
    disposeRopeTables();
    expect(tf.memory().numTensors).toBe(before);
    expect(gpu.tokens).toEqual(cpu.tokens);
    expect(relativeError(gpu.logits, cpu.logits)).toBeLessThan(1e-4);
  });

  it('a cache that outgrows its capacity doubles and still matches', async () => {
    const run = async () => {
      const f = engineFixture('llamaGqa');
      const cache = new KvCache(f.config.numLayers, { capacity: 2 });
      const all: number[] = [];
      for (const chunk of [[3, 17, 5], [9], [22, 1], [14], [6], [7]]) {
        const logits = tf.tidy(() => {
          const h = f.model.hidden(tf.tensor2d([chunk], [1, chunk.length], 'int32'), cache);
          return f.model.logits(tf.reshape(h, [chunk.length, -1]) as tf.Tensor2D);
        });
        all.push(...(await logits.data()));
        logits.dispose();
      }
      expect(cache.length).toBe(9);
      cache.dispose();
      f.dispose();
      return all;
    };
    await tf.setBackend('cpu');
    const cpu = await run().finally(() => tf.setBackend('webgpu'));
    const gpu = await run();
    expect(relativeError(gpu, cpu)).toBeLessThan(1e-4);
  });

  it('attention part of a decode step per layer: ours vs stock', async () => {
    // One layer's decode attention (split heads, RoPE, cache write, attend) after a 24-token
    // prefill, batch 2, H 4 / K 2, D 16: shapes above TF.js's cpu hand-off threshold.
    const [B, P, H, K, D] = [2, 24, 4, 2, 16];
    const part = (cache: KvCache, T: number, offset: number, seed: number) => {
      const q3 = tf.tensor3d(seededArray(B * T * H * D, seed, 2), [B, T, H * D]);
      const k3 = tf.tensor3d(seededArray(B * T * K * D, seed + 1, 2), [B, T, K * D]);
      const v3 = tf.tensor3d(seededArray(B * T * K * D, seed + 2, 2), [B, T, K * D]);
      for (const t of [q3, k3, v3]) webgpuBackend()!.uploadToGPU(t.dataId);
      const run = (): tf.Tensor3D =>
        attendProjections(
          q3,
          k3,
          v3,
          { H, K, D },
          { rope: ropeTables(T, D, 10000, offset), cache, index: 0 },
        );
      return { q3, k3, v3, run };
    };
    const measure = (on: boolean) =>
      withGpuKernels(on, async (): Promise<GpuWork> => {
        const cache = new KvCache(1, { capacity: P + 4 });
        let work: GpuWork | null = null;
        for (const [T, offset] of [
          [P, 0],
          [1, P],
          [1, P + 1],
        ] as const) {
          const { q3, k3, v3, run } = part(cache, T, offset, offset + 1);
          const counted = await countGpuWork(async () => {
            const o = tf.tidy(() => run());
            await o.data();
            o.dispose();
          });
          work = counted.work;
          tf.dispose([q3, k3, v3]);
        }
        cache.dispose();
        return work!;
      });
    const ours = await measure(true);
    const stock = await measure(false);
    console.log(
      `decode attention part per layer per token: ours ${ours.dispatches} dispatches, ` +
        `${ours.uploads} uploads ${JSON.stringify(ours.ours)} ${JSON.stringify(ours.stock)}; ` +
        `stock ${stock.dispatches} dispatches, ${stock.uploads} uploads ${JSON.stringify(stock.stock)}`,
    );
    expect(ours.ours).toEqual({ 'kv-cache-write-rope': 1, 'attention-forward-d16': 1 });
    expect(ours.dispatches).toBe(2);
    expect(ours.uploads).toBe(0);
  });

  it.each([
    ['llamaGqa', 'kv-cache-write-rope', 'attention-forward-d8'],
    ['gpt2', 'kv-cache-write', 'attention-forward-d8'],
  ] as const)('%s: a whole decode step, ours vs stock', async (name, write, attention) => {
    const f = engineFixture(name);
    const decoder = new LmDecoder(f.model);
    const count = (on: boolean) =>
      withGpuKernels(on, async () => {
        const { session } = await decoder.prefill(prompt, 2, 4);
        await session.step([1, 2]);
        const { work } = await countGpuWork(() => session.step([3, 4]));
        session.dispose();
        return work;
      });
    const ours = await count(true);
    const stock = await count(false);
    const L = f.config.numLayers;
    console.log(
      `${name} decode step (${L} layers, batch 2): ours ${ours.dispatches} dispatches, ` +
        `${ours.uploads} uploads, ${ours.readbacks} readbacks ${JSON.stringify(ours.ours)} ` +
        `${JSON.stringify(ours.stock)}; stock ${stock.dispatches} dispatches, ${stock.uploads} ` +
        `uploads, ${stock.readbacks} readbacks`,
    );
    expect(ours.ours[write]).toBe(L);
    expect(ours.ours[attention]).toBe(L);
    // the token ids (GPT-2's positions for wpe come from the offset, in the embedding's gather)
    expect(ours.uploads).toBe(1);
    f.dispose();
  });
});
