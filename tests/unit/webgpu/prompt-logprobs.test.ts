// Prompt scoring on the device (log-softmax-rows.ts through prompt-scoring.ts) on Dawn: against
// the float64 reference transformer, against the stock-op path (kernels off), and its cost: one
// readback for prompt_logprobs and topk_prompt_logprobs together.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scorePrompt } from '../../../src/model/prompt-scoring';
import { disposeRopeTables } from '../../../src/model/rope';
import { compileMessages } from '../../../src/runtime/webgpu/gpu-runtime';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import {
  LOG_SOFTMAX_ROWS,
  logSoftmaxRows,
} from '../../../src/runtime/webgpu/kernels/log-softmax-rows';
import { promptScoreRows } from '../../../src/runtime/webgpu/ops/sampling';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { engineFixture, type EngineFixture } from '../../helpers/model-fixtures';
import { seededArray } from '../../helpers/seeded';
import { expectNoLeaks } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';
import { referenceLogits, type LoraFactors } from '../../reference/transformer-f64';

const prompt = [4, 19, 7, 7, 30, 2, 11, 50, 63, 0];

/** float64 log_softmax of row r of [n, V] values. */
function logSoftmax(values: ArrayLike<number>, r: number, V: number): number[] {
  const row = Array.from({ length: V }, (_, j) => values[r * V + j] as number);
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
  return row.map((z) => z - lse);
}

/** The k best [id, lp] of a float64 row, descending, ties lowest id first. */
function topk(row: number[], k: number): [number, number][] {
  return row
    .map((lp, id): [number, number] => [id, lp])
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, k);
}

function expectPairs(got: [number, number][], want: [number, number][], tol: number): void {
  expect(got.map((p) => p[0])).toEqual(want.map((p) => p[0]));
  got.forEach((p, j) =>
    expect(Math.abs(p[1] - (want[j] as [number, number])[1])).toBeLessThan(tol),
  );
}

/** model-fixtures' `referenceLora` with awaited reads (`dataSync` throws on Dawn). */
async function referenceLoraAsync(f: EngineFixture): Promise<Map<string, LoraFactors>> {
  const out = new Map<string, LoraFactors>();
  for (const [path, m] of f.adapter?.modules ?? []) {
    out.set(path, {
      A: Float64Array.from(await m.a.data()),
      B: Float64Array.from(await m.b.data()),
      r: f.adapter!.config.rank,
      scale: f.adapter!.scale,
    });
  }
  return out;
}

describe('log-softmax-rows kernel (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  it('compiles cleanly', async () => {
    expect(await compileMessages(LOG_SOFTMAX_ROWS)).toEqual([]);
  });

  it('scores rows at an offset: target log-prob and the top-k set, ties lowest id first', async () => {
    const V = 300;
    const n = 3;
    const k = 9;
    // Quarter steps over ±4: ties at the k-th value in most rows.
    const values = seededArray(n * V, 5, 8).map((x) => Math.round(x * 4) / 4);
    values[V + 7] = -Infinity; // a masked token in row 1
    const logits = tf.tensor2d(values, [n, V]);
    const targets = tf.tensor1d([-1, 0, 5, 299, 12], 'int32'); // rows 2..4 are ours
    const out = promptScoreRows(5, k);
    logSoftmaxRows(logits, targets, out, 2, k);
    const got = await out.data();
    const width = 1 + 2 * k;
    for (let r = 0; r < n; r++) {
      const row = logSoftmax(values, r, V);
      const o = (2 + r) * width;
      const t = [5, 299, 12][r] as number;
      expect(Math.abs((got[o] as number) - (row[t] as number))).toBeLessThan(1e-5);
      const pairs = Array.from({ length: k }, (_, j): [number, number] => [
        got[o + 1 + 2 * j] as number,
        got[o + 2 + 2 * j] as number,
      ]).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      expectPairs(pairs, topk(row, k), 1e-5);
    }
    tf.dispose([logits, targets, out]);
  });
});

describe('prompt scoring on the device (qwen3 tiny, LoRA on q/v and lm_head, chunks of 3 rows)', () => {
  let f: EngineFixture;
  beforeAll(async () => {
    await useWebGpuBackend();
    f = engineFixture(
      'qwen3',
      { targets: ['q_proj', 'v_proj', 'lm_head'], rank: 2 },
      { chunkRows: 3 },
    );
    // The model's caches (device RoPE tables) are made on first use, before tensors are counted.
    await scorePrompt(f.model, prompt, { logprobs: true, topk: 0 });
  }, 300_000);
  afterAll(async () => {
    disposeRopeTables();
    f.dispose();
    await useCpuAgain();
  });

  it('matches the float64 reference and the stock path; both scores in one readback', async () => {
    const V = f.config.vocabSize;
    const k = 4;
    const want = { logprobs: true, topk: k };
    const ours = await expectNoLeaks(() => countGpuWork(() => scorePrompt(f.model, prompt, want)));
    const stock = await countGpuWork(() =>
      withGpuKernels(false, () => scorePrompt(f.model, prompt, want)),
    );
    const ref = referenceLogits(f.config, f.weights, prompt, await referenceLoraAsync(f));
    const { logprobs, topk: alternatives } = ours.result;
    expect(logprobs?.[0]).toBeNull();
    expect(alternatives?.[0]).toBeNull();
    for (let i = 1; i < prompt.length; i++) {
      const row = logSoftmax(ref, i - 1, V);
      expect(
        Math.abs((logprobs?.[i] as number) - (row[prompt[i] as number] as number)),
      ).toBeLessThan(1e-5);
      expect(
        Math.abs((logprobs?.[i] as number) - (stock.result.logprobs?.[i] as number)),
      ).toBeLessThan(1e-5);
      expectPairs(alternatives?.[i] as [number, number][], topk(row, k), 1e-5);
      expectPairs(
        alternatives?.[i] as [number, number][],
        stock.result.topk?.[i] as [number, number][],
        1e-5,
      );
    }
    // One forward, 3 chunks of rows (9 positions), one kernel each, one readback for both.
    expect(ours.work.readbacks).toBe(1);
    expect(ours.work.ours['log-softmax-rows']).toBe(3);
    // The stock path reads the prompt log-probs once, then values and ids per chunk.
    expect(stock.work.readbacks).toBe(1 + 2 * 3);
  });

  it('prompt_logprobs alone, and a one-token prompt', async () => {
    const only = await scorePrompt(f.model, prompt, { logprobs: true, topk: 0 });
    expect(only.topk).toBeNull();
    expect(only.logprobs).toHaveLength(prompt.length);
    const one = await scorePrompt(f.model, [4], { logprobs: true, topk: 3 });
    expect(one).toEqual({ logprobs: [null], topk: [null] });
  });
});
