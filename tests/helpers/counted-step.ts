/**
 * One training step of a model on TINY_BATCH, counted: the loss, the gradients of `vars` read
 * back, and the GPU work it ran (countGpuWork). Shared by the webgpu step tests.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../../src/model/causal-lm';
import { countGpuWork, type GpuWork } from '../../src/runtime/webgpu/counters';
import { TINY_BATCH } from './model-fixtures';

export interface CountedStep {
  loss: number;
  grads: Float32Array[];
  work: GpuWork;
}

/** `loss(lp, targets)` of the model's target log-probs on TINY_BATCH, differentiated w.r.t. `vars`. */
export async function countedStep(
  model: CausalLM,
  vars: tf.Variable[],
  loss: (lp: tf.Tensor2D, targets: tf.Tensor2D) => tf.Scalar,
): Promise<CountedStep> {
  const { tokens, targets } = TINY_BATCH;
  const { result, work } = await countGpuWork(() =>
    tf.variableGrads(() => {
      const t = tf.tensor2d(targets, undefined, 'int32');
      return loss(model.targetLogprobs(tf.tensor2d(tokens, undefined, 'int32'), t), t);
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
  return out;
}
