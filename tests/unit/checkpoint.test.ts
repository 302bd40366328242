// Activation checkpointing (src/model/checkpoint.ts): a checkpointed model gives the same loss and
// the same LoRA gradients as a plain one, keeps fewer bytes between forward and backward, and
// 'auto' switches it on only for batches whose activations would outweigh the budget.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TINY_MODEL_NAMES, tinyModel } from '../helpers/tiny-models';
import { useCpuBackend, expectNoLeaks } from '../helpers/tf-node';
import { engineFixture, relativeError } from '../helpers/model-fixtures';
import { ATTENTION_PROJECTIONS, MLP_PROJECTIONS } from '../../src/model/weight-names';
import { CHECKPOINT_BUDGET, CHECKPOINT_MIN_BYTES, type CausalLM } from '../../src/model/causal-lm';
import { checkpointed, checkpointedStack } from '../../src/model/checkpoint';
import { trackPeak } from '../../bench/lib/peak-memory';

beforeAll(useCpuBackend);

const B = 3;
const T = 12;
const tokens = Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 40);
const targets = tokens.map((t, i) => (i % 5 === 2 ? -100 : (t * 3 + 1) % 40));

/** Σ w·lp, its gradients, and the tensor bytes held right after the forward pass. */
async function lossAndGrads(model: CausalLM, vars: tf.Variable[]) {
  let afterForward = 0;
  const { value, grads } = tf.variableGrads(() => {
    const lp = model.targetLogprobs(
      tf.tensor2d(tokens, [B, T], 'int32'),
      tf.tensor2d(targets, [B, T], 'int32'),
    );
    afterForward = tf.memory().numBytes;
    const w = tf.tensor2d(
      Array.from({ length: B * T }, (_, i) => Math.sin(i)),
      [B, T],
    );
    return tf.sum(tf.mul(lp, w)) as tf.Scalar;
  }, vars);
  const out = {
    loss: (await value.data())[0]!,
    grads: Object.fromEntries(
      await Promise.all(
        Object.entries(grads).map(async ([k, g]) => [k, Array.from(await g.data())] as const),
      ),
    ),
    afterForward,
  };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe.each(TINY_MODEL_NAMES)('%s', (name) => {
  it('checkpointed blocks give the plain loss and LoRA gradients, holding less after forward', async () => {
    const { config } = tinyModel(name);
    const lora = {
      targets: [...ATTENTION_PROJECTIONS[config.family], ...MLP_PROJECTIONS[config.family]],
      rank: 2,
    };
    const plain = engineFixture(name, lora, { checkpointLayers: false });
    const ckpt = engineFixture(name, lora, { checkpointLayers: true });
    // One sequence per group: three groups forward and backward, gradients summed over them.
    const grouped = engineFixture(name, lora, { checkpointLayers: true, checkpointChunkTokens: T });
    try {
      expect(ckpt.model.checkpoints(B, T)).toBe(true);
      expect(plain.model.checkpoints(B, T)).toBe(false);
      const a = await expectNoLeaks(() => lossAndGrads(plain.model, plain.adapter!.variables));
      const b = await expectNoLeaks(() => lossAndGrads(ckpt.model, ckpt.adapter!.variables));
      const c = await expectNoLeaks(() => lossAndGrads(grouped.model, grouped.adapter!.variables));
      const names = Object.keys(a.grads);
      expect(names.length).toBe(plain.adapter!.variables.length);
      for (const other of [b, c]) {
        expect(Math.abs(a.loss - other.loss)).toBeLessThan(1e-5 * Math.abs(a.loss));
        for (const [i, key] of names.entries()) {
          const got = Object.values(other.grads)[i]!;
          expect(relativeError(got, a.grads[key]!), key).toBeLessThan(1e-5);
        }
      }
      // Plain: every intermediate of every block is on the tape; checkpointed: one input per block.
      expect(b.afterForward).toBeLessThan(a.afterForward);
    } finally {
      plain.dispose();
      ckpt.dispose();
      grouped.dispose();
    }
  });
});

it("'auto' checkpoints once saved activations pass half the weights and 64 MiB", () => {
  const f = engineFixture('llamaGqa', { targets: ['q_proj', 'v_proj'], rank: 2 });
  try {
    const weightBytes = [...f.tfWeights.values()].reduce((s, t) => s + 4 * t.size, 0);
    const bytes = (b: number, t: number) => f.model.savedActivationBytes(b, t);
    // Past half the weights but under 64 MiB: not worth an extra forward.
    expect(bytes(8, 64)).toBeGreaterThan(CHECKPOINT_BUDGET * weightBytes);
    expect(bytes(8, 64)).toBeLessThan(CHECKPOINT_MIN_BYTES);
    expect(f.model.checkpoints(8, 64)).toBe(false);
    expect(bytes(64, 128)).toBeGreaterThan(CHECKPOINT_MIN_BYTES);
    expect(f.model.checkpoints(64, 128)).toBe(true);
    expect(f.model.checkpoints(1, 2)).toBe(false);
  } finally {
    f.dispose();
  }
});

describe('a checkpointed stack', () => {
  const [Bs, Ts, C] = [2, 8, 16];
  /** L blocks x ↦ x + tanh(x·W_i), their variables, and one gradient's peak of distinct buffers. */
  async function peakPerStack(L: number, asOneStack: boolean) {
    const ws = Array.from({ length: L }, (_, i) =>
      tf.variable(tf.randomNormal([C, C], 0, 0.3, 'float32', i + 1)),
    );
    const blocks = ws.map((w) => ({
      run: (x: tf.Tensor3D) =>
        tf.tidy(
          () =>
            tf.add(
              x,
              tf.tanh(tf.matMul(x, w.expandDims(0).tile([x.shape[0], 1, 1]))),
            ) as tf.Tensor3D,
        ),
      params: [w],
    }));
    const x = tf.randomNormal([Bs, Ts, C], 0, 1, 'float32', 7) as tf.Tensor3D;
    const loss = () =>
      tf.sum(
        asOneStack
          ? checkpointedStack(blocks, x, 1)
          : blocks.reduce((h, b) => checkpointed(b.run, h, b.params, 1), x),
      ) as tf.Scalar;
    try {
      const grads: number[][] = [];
      const peak = await trackPeak(async () => {
        const { value, grads: g } = tf.variableGrads(loss, ws);
        for (const w of ws) grads.push(Array.from(await g[w.name]!.data()));
        tf.dispose([value, ...Object.values(g)]);
      });
      return { peak: peak.peakBufferBytes - tf.memory().numBytes, grads };
    } finally {
      tf.dispose([x, ...ws]);
    }
  }

  it('gives the per-block gradients and holds one input per block, not also one ∂x per block', async () => {
    const bytes = Bs * Ts * C * 4;
    const one = await peakPerStack(4, true);
    const many = await peakPerStack(4, false);
    for (const [i, g] of one.grads.entries()) {
      expect(relativeError(g, many.grads[i]!)).toBeLessThan(1e-6);
    }
    const deep = await peakPerStack(12, true);
    const deepMany = await peakPerStack(12, false);
    // Eight more blocks: eight more saved inputs (and their small weights and gradients) …
    const perBlock = (deep.peak - one.peak) / 8;
    expect(perBlock).toBeLessThan(1.5 * bytes);
    // … where one op per block also kept each block's ∂x until the pass ended.
    expect((deepMany.peak - many.peak) / 8).toBeGreaterThan(1.8 * bytes);
  });
});
