// Token choice on the device (sample-rows.ts) against the page's chooser (choose-token.ts), which
// is the plain-TypeScript float64 reference: greedy, temperature, top-k, top-p, combined, ties,
// masked tokens, errors, and the xoshiro128** stream advanced on the device.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenChoiceParams } from '../../../src/core/sampling-params';
import { compileMessages } from '../../../src/runtime/webgpu/gpu-runtime';
import { SAMPLE_ROWS, sampleRows } from '../../../src/runtime/webgpu/kernels/sample-rows';
import { chooseToken } from '../../../src/sampling/choose-token';
import type { Xoshiro128 } from '../../../src/sampling/rng';
import { seedWords, streamRng, type Rng } from '../../../src/sampling/rng';
import { seededArray } from '../../helpers/seeded';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

/**
 * The page's chooser fed the draw the device makes: xoshiro128**'s first output of the two a step
 * consumes, top 24 bits (sample-rows.ts), so both sides draw the same u exactly.
 */
class DeviceDraws implements Rng {
  constructor(private readonly inner: Xoshiro128) {}
  nextUint32(): number {
    return this.inner.nextUint32();
  }
  nextFloat(): number {
    const a = this.inner.nextUint32();
    this.inner.nextUint32();
    return (a >>> 8) / 2 ** 24;
  }
}

const V = 300; // not a multiple of the 256 invocations: chunks end mid-row
const B = 4;

/** Seeded logits [rows, width] spread over ±4: float32 gaps far above the kernels' rounding. */
function spreadLogits(seed: number, rows = B, width = V): Float32Array {
  return seededArray(rows * width, seed, 8);
}

/** Logits rounded to quarters: many exact ties, to pin the lowest-id-first tie rules. */
function tiedLogits(seed: number, rows = B): Float32Array {
  return spreadLogits(seed, rows).map((x) => Math.round(x * 4) / 4);
}

function streams(seed: number, rows: number): Xoshiro128[] {
  return Array.from({ length: rows }, (_, i) => streamRng(seedWords(seed), i));
}

function stateTensor(gens: Xoshiro128[]): tf.Tensor1D {
  return tf.tensor1d(Int32Array.from(gens.flatMap((g) => g.state())), 'int32');
}

/** Runs `steps` draws over the same logits on the device and on the page; returns both. */
async function both(
  values: Float32Array,
  rows: number,
  params: TokenChoiceParams,
  seed: number,
  steps = 4,
  width = V,
): Promise<{
  device: { token: number; logprob: number }[];
  page: { token: number; logprob: number }[];
}> {
  const R = values.length / width;
  const logits = tf.tensor2d(values, [R, width]);
  const state = stateTensor(streams(seed, rows));
  const refRngs = streams(seed, rows).map((g) => new DeviceDraws(g));
  const device: { token: number; logprob: number }[] = [];
  const page: { token: number; logprob: number }[] = [];
  const topK = params.topK > 0 ? params.topK : 0;
  for (let s = 0; s < steps; s++) {
    const { ids, result } = sampleRows(logits, rows, state, { ...params, topK });
    const [out, idv] = await Promise.all([result.data(), ids.data()]);
    tf.dispose([ids, result]);
    for (let r = 0; r < rows; r++) {
      device.push({ token: out[r] as number, logprob: out[rows + r] as number });
      expect(idv[r]).toBe(out[r]);
      const row = values.subarray((R === 1 ? 0 : r) * width, (R === 1 ? 1 : r + 1) * width);
      page.push(chooseToken(row, params, refRngs[r] as Rng));
    }
  }
  tf.dispose([logits, state]);
  return { device, page };
}

function expectSame(got: {
  device: { token: number; logprob: number }[];
  page: { token: number; logprob: number }[];
}): void {
  expect(got.device.map((c) => c.token)).toEqual(got.page.map((c) => c.token));
  got.device.forEach((c, i) => {
    expect(Math.abs(c.logprob - (got.page[i] as { logprob: number }).logprob)).toBeLessThan(1e-5);
  });
}

const P = (temperature: number, topK = -1, topP = 1): TokenChoiceParams => ({
  temperature,
  topK,
  topP,
});

describe('sample-rows on the device (Dawn) against choose-token.ts', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  it('compiles cleanly', async () => {
    expect(await compileMessages(SAMPLE_ROWS)).toEqual([]);
  });

  it('greedy: the argmax and its raw log-prob, no draw', async () => {
    expectSame(await both(spreadLogits(1), B, P(0), 1, 1));
    expectSame(await both(tiedLogits(2), B, P(0), 1, 1)); // ties: lowest id
  });

  it('temperature alone, over several draws and seeds', async () => {
    for (const seed of [1, 2, 3]) expectSame(await both(spreadLogits(10 + seed), B, P(0.7), seed));
    expectSame(await both(spreadLogits(14), B, P(1), 4));
    expectSame(await both(spreadLogits(15), B, P(2.5), 5));
  });

  it('top-k, including k = 1 and ties at the cut', async () => {
    expectSame(await both(spreadLogits(20), B, P(1, 5), 6));
    expectSame(await both(spreadLogits(21), B, P(0.8, 1), 7));
    expectSame(await both(tiedLogits(22), B, P(3, 7), 8));
    expectSame(await both(tiedLogits(23), B, P(3, 60), 9));
  });

  it('top-p, including ties at the cut', async () => {
    expectSame(await both(spreadLogits(30), B, P(1, -1, 0.8), 10));
    expectSame(await both(spreadLogits(31), B, P(0.5, -1, 0.3), 11));
    expectSame(await both(tiedLogits(32), B, P(4, -1, 0.5), 12));
  });

  it('top-k and top-p together with a temperature', async () => {
    expectSame(await both(spreadLogits(40), B, P(1.3, 40, 0.9), 13));
    expectSame(await both(tiedLogits(41), B, P(2, 25, 0.6), 14));
  });

  it('at a real vocabulary (Qwen’s 151,936), one row', async () => {
    // Top-k / top-p keep few tokens, so float32 against float64 cannot move the draw; the greedy
    // and full-vocabulary draws check the row-wide passes at size (same seeds each run: a flip
    // would show every time, not at random).
    const W = 151_936;
    const values = spreadLogits(90, 1, W);
    expectSame(await both(values, 1, P(0), 1, 1, W));
    expectSame(await both(values, 1, P(0.8, 50, 0.9), 2, 2, W));
    expectSame(await both(values, 1, P(1, -1, 0.001), 3, 2, W));
    expectSame(await both(values, 1, P(1), 4, 2, W));
  });

  it('every sequence from one row (after the prefill), each with its own stream', async () => {
    const got = await both(spreadLogits(50, 1), 5, P(1.5, 50, 0.95), 15, 2);
    expectSame(got);
    expect(new Set(got.device.map((c) => c.token)).size).toBeGreaterThan(1);
  });

  it('never draws a masked (−Infinity) token, and reports log-probs past them', async () => {
    const values = spreadLogits(60);
    for (let i = 0; i < values.length; i += 3) values[i] = -Infinity;
    expectSame(await both(values, B, P(1), 16));
    expectSame(await both(values, B, P(2, 150, 0.9), 17));
  });

  it('advances each row’s xoshiro128** state by two outputs per step (none at T = 0)', async () => {
    const logits = tf.tensor2d(spreadLogits(70), [B, V]);
    const gens = streams(99, B);
    const state = stateTensor(gens);
    for (const T of [1, 0, 1]) {
      const { ids, result } = sampleRows(logits, B, state, { temperature: T, topK: 0, topP: 1 });
      tf.dispose([ids, result]);
      if (T > 0) gens.forEach((g) => (g.nextUint32(), g.nextUint32()));
    }
    const words = new Uint32Array((await state.data()).buffer.slice(0));
    expect(Array.from(words)).toEqual(gens.flatMap((g) => g.state()));
    tf.dispose([logits, state]);
  });

  it('reports NaN / +Infinity by index and a row with nothing finite', async () => {
    const values = spreadLogits(80);
    values[17] = NaN;
    values[V + 250] = Infinity;
    values[V + 260] = NaN;
    values.fill(-Infinity, 2 * V, 3 * V);
    const logits = tf.tensor2d(values, [B, V]);
    const state = stateTensor(streams(1, B));
    const { ids, result } = sampleRows(logits, B, state, { temperature: 1, topK: 0, topP: 1 });
    const out = await result.data();
    expect(Array.from(out.subarray(0, B)).slice(0, 3)).toEqual([-18, -251, -(V + 1)]);
    expect(out[B]).toBeNaN();
    expect(out[B + 1]).toBe(Infinity);
    expect(out[3]).toBeGreaterThanOrEqual(0);
    tf.dispose([logits, state, ids, result]);
  });
});
