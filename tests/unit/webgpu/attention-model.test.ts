// The tiny fixture models on webgpu with our attention and RoPE kernels: target log-probs and
// LoRA gradients equal the cpu backend's, and the attention part of a block (split heads, RoPE,
// attend: `attendProjections`; forward and backward) costs a handful of dispatches and no
// uploads, against the stock ops.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attendPacked, attendProjections } from '../../../src/model/attention';
import { disposeRopeTables, ropeTables } from '../../../src/model/rope';
import { webgpuBackend } from '../../../src/runtime/webgpu/backend-internals';
import { countGpuWork, type GpuWork } from '../../../src/runtime/webgpu/counters';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { ATTENTION_PROJECTIONS } from '../../../src/model/weight-names';
import { engineFixture, relativeError } from '../../helpers/model-fixtures';
import { seededArray } from '../../helpers/seeded';
import type { TinyModelName } from '../../helpers/tiny-models';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const tokens = [3, 17, 5, 9, 22, 1, 14];
const targets = [17, 5, -100, 22, 1, 7, 2];

/** Log-probs and LoRA gradients of Σ lp on the current backend. */
async function lossAndGrads(name: TinyModelName) {
  const family = name === 'gpt2' ? 'gpt2' : 'llama';
  const gf = engineFixture(name, { targets: [...ATTENTION_PROJECTIONS[family]], rank: 2 });
  const T = tokens.length;
  const { value, grads } = tf.variableGrads(() => {
    const lp = gf.model.targetLogprobs(
      tf.tensor2d([tokens], [1, T], 'int32'),
      tf.tensor2d([targets], [1, T], 'int32'),
    );
    return tf.sum(lp) as tf.Scalar;
  }, gf.adapter!.variables);
  const out = {
    loss: (await value.data())[0]!,
    grads: await Promise.all(
      gf.adapter!.variables.map(async (v) => Array.from(await grads[v.name]!.data())),
    ),
  };
  tf.dispose([value, ...Object.values(grads)]);
  gf.dispose();
  return out;
}

describe('tiny models on webgpu with fused attention and RoPE', () => {
  beforeAll(useWebGpuBackend);
  afterAll(async () => {
    disposeRopeTables();
    await useCpuAgain();
  });

  it.each(['llamaGqa', 'qwen3', 'gpt2'] as const)(
    '%s: loss and LoRA gradients equal the cpu backend',
    async (name) => {
      await tf.setBackend('cpu');
      const cpu = await lossAndGrads(name).finally(() => tf.setBackend('webgpu'));
      const gpu = await lossAndGrads(name);
      expect(Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss)).toBeLessThan(1e-5);
      gpu.grads.forEach((g, i) => expect(relativeError(g, cpu.grads[i]!)).toBeLessThan(1e-4));
    },
  );

  it('attention part of a block per training step: ours vs stock dispatches', async () => {
    // SmolLM2-like grouping at toy width: H 4, K 2, D 16, B 2 × T 32 (above TF.js's 1,000-element
    // cpu hand-off, so stock ops run on the GPU as they do at real sizes).
    const [B, T, H, K, D] = [2, 32, 4, 2, 16];
    const q3 = tf.tensor3d(seededArray(B * T * H * D, 1, 2), [B, T, H * D]);
    const k3 = tf.tensor3d(seededArray(B * T * K * D, 2, 2), [B, T, K * D]);
    const v3 = tf.tensor3d(seededArray(B * T * K * D, 3, 2), [B, T, K * D]);
    const dy = tf.tensor3d(seededArray(B * T * H * D, 4, 2), [B, T, H * D]);
    for (const t of [q3, k3, v3, dy]) webgpuBackend()!.uploadToGPU(t.dataId);
    // The block's own attention lines (src/model/blocks.ts → attendProjections).
    const part = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) =>
      attendProjections(q, k, v, { H, K, D }, { rope: ropeTables(T, D, 10000, 0) });
    const step = () =>
      countGpuWork(async () => {
        const g = tf.grads((a, b, c) => part(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D))(
          [q3, k3, v3],
          dy,
        );
        await Promise.all(g.map((t) => t.data()));
        tf.dispose(g);
      });
    const measure = async (on: boolean): Promise<GpuWork> =>
      withGpuKernels(on, async () => {
        await step(); // first step: tables, pipelines
        return (await step()).work;
      });
    const ours = await measure(true);
    const stock = await measure(false);
    console.log(
      `attention part per layer per training step (fwd + bwd): ours ${ours.dispatches} ` +
        `dispatches, ${ours.uploads} uploads ${JSON.stringify(ours.ours)} ${JSON.stringify(ours.stock)}; ` +
        `stock ${stock.dispatches} dispatches, ${stock.uploads} uploads ${JSON.stringify(stock.stock)}`,
    );
    expect(ours.uploads).toBe(0);
    // RoPE inside the attention kernels: forward 1, backward 2
    expect(ours.ours).toEqual({
      'attention-forward-d16': 1,
      'attention-dq-d16': 1,
      'attention-dkdv-d16': 1,
    });
    expect(ours.dispatches).toBe(3);
    tf.dispose([q3, k3, v3, dy]);
  });

  it('GPT-2 attention part per training step (packed qkv read in place): ours vs stock', async () => {
    const [B, T, H, D] = [2, 32, 4, 16];
    const qkv = tf.tensor3d(seededArray(B * T * 3 * H * D, 5, 2), [B, T, 3 * H * D]);
    const dy = tf.tensor3d(seededArray(B * T * H * D, 6, 2), [B, T, H * D]);
    for (const t of [qkv, dy]) webgpuBackend()!.uploadToGPU(t.dataId);
    const step = () =>
      countGpuWork(async () => {
        const g = tf.grad((x) => attendPacked(x as tf.Tensor3D, { H, K: H, D }))(qkv, dy);
        await g.data();
        g.dispose();
      });
    const measure = (on: boolean): Promise<GpuWork> =>
      withGpuKernels(on, async () => {
        await step();
        return (await step()).work;
      });
    const ours = await measure(true);
    const stock = await measure(false);
    console.log(
      `GPT-2 attention part per layer per training step (fwd + bwd): ours ${ours.dispatches} ` +
        `dispatches, ${ours.uploads} uploads ${JSON.stringify(ours.ours)}; stock ` +
        `${stock.dispatches} dispatches, ${stock.uploads} uploads ${JSON.stringify(stock.stock)}`,
    );
    expect(ours.dispatches).toBe(3);
    expect(ours.uploads).toBe(0);
    tf.dispose([qkv, dy]);
  });
});
