// One LoRA training step (loss and gradients of every adapter variable, as Run.forwardBackward
// computes them) of tiny fixture models on webgpu with our kernels, against the cpu backend; plain
// and with activation checkpointing (the LoRA op inside checkpoint.ts's customGrad). Ops not yet
// ported to our kernels run as stock ops, so this holds whatever else has landed. Also counts the
// step's dispatches, ours against the stock path (`withGpuKernels(false)`).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeRopeTables } from '../../../src/model/rope';
import { ATTENTION_PROJECTIONS, MLP_PROJECTIONS } from '../../../src/model/weight-names';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { engineFixture, relativeError } from '../../helpers/model-fixtures';
import { tinyModel, type TinyModelName } from '../../helpers/tiny-models';
import { countedStep, type CountedStep } from '../../helpers/counted-step';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

/** Loss −Σ lp over valid targets and its gradients w.r.t. every LoRA variable, in order. */
async function step(name: TinyModelName, checkpointLayers: boolean): Promise<CountedStep> {
  const { config } = tinyModel(name);
  const targetsList = [...ATTENTION_PROJECTIONS[config.family], ...MLP_PROJECTIONS[config.family]];
  // Checkpointed: one sequence per group (8 tokens), so backward runs the block twice and sums.
  const options = checkpointLayers ? { checkpointLayers, checkpointChunkTokens: 8 } : {};
  const f = engineFixture(name, { targets: targetsList, rank: 4 }, options);
  const vars = f.adapter!.variables;
  const out = await countedStep(f.model, vars, (lp, t) =>
    tf.neg(tf.sum(tf.mul(lp, tf.cast(tf.greaterEqual(t, 0), 'float32')))),
  );
  f.dispose();
  disposeRopeTables(); // gpu-attn's RoPE tables stay cached on the device otherwise
  return out;
}

const CASES = [
  ['llamaGqa', false],
  ['gpt2', false],
  ['llamaGqa', true],
] as const;

describe('one LoRA training step on webgpu (Dawn) vs cpu', () => {
  const reference = new Map<string, CountedStep>();

  beforeAll(async () => {
    await useCpuAgain();
    for (const [name, ckpt] of CASES) reference.set(`${name}${ckpt}`, await step(name, ckpt));
    await useWebGpuBackend();
  });
  afterAll(useCpuAgain);

  for (const [name, ckpt] of CASES) {
    it(`${name}${ckpt ? ', checkpointed blocks, one sequence a group' : ''}: same loss and LoRA gradients`, async () => {
      const want = reference.get(`${name}${ckpt}`)!;
      const before = tf.memory().numTensors;
      const got = await step(name, ckpt);
      expect(tf.memory().numTensors).toBe(before);
      expect(Math.abs(got.loss - want.loss) / Math.abs(want.loss)).toBeLessThan(1e-4);
      let worst = 0;
      got.grads.forEach((g, i) => (worst = Math.max(worst, relativeError(g, want.grads[i]!))));
      expect(worst).toBeLessThan(1e-4);
      expect(Object.keys(got.work.ours).some((k) => k.startsWith('gemm-'))).toBe(true);
      if (!ckpt) {
        const stock = await withGpuKernels(false, () => step(name, ckpt));
        const gemms = Object.entries(got.work.ours)
          .filter(([k]) => k.startsWith('gemm-'))
          .reduce((s, [, n]) => s + n, 0);
        console.log(
          `${name} LoRA step (B 2 × T 8, forward + backward): dispatches ours ${got.work.dispatches} ` +
            `(${gemms} GEMM), stock ${stock.work.dispatches}; max rel. grad error ${worst.toExponential(2)}`,
        );
        expect(got.work.dispatches).toBeLessThan(stock.work.dispatches);
      }
    });
  }
});
