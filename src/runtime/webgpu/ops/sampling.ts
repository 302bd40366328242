/**
 * The device side of sampling and prompt scoring, as the sampler and the model call it: token
 * choice for a decode step (kernels/sample-rows.ts) and log-softmax scoring of prompt rows
 * (kernels/log-softmax-rows.ts). Unlike the training ops there is nothing to differentiate and no
 * stock-op twin: when `gpuKernelsActive()` is false the callers keep today's page path (logits
 * read back, chosen in src/sampling/choose-token.ts), which is also these kernels' reference.
 */
import * as tf from '@tensorflow/tfjs';
import type { TokenChoiceParams } from '../../../core/sampling-params';
import { emptyTensor } from '../backend-internals';
import { LOG_SOFTMAX_ROWS } from '../kernels/log-softmax-rows';
import { SAMPLE_ROWS, sampleRows, type SampledRows } from '../kernels/sample-rows';

export { logSoftmaxRows } from '../kernels/log-softmax-rows';
export type { SampledRows } from '../kernels/sample-rows';

/** The kernels a sampler needs, for `precompile` at load. */
export const SAMPLING_KERNELS = [SAMPLE_ROWS, LOG_SOFTMAX_ROWS] as const;

/**
 * One token per sequence from `logits` [B, V] (or [1, V] shared by all B, after the prefill), on
 * the device; `rng` (int32 [B·4], from `rngStates`) advances in place. The caller disposes both
 * returned tensors.
 */
export function chooseTokensOnDevice(
  logits: tf.Tensor2D,
  batch: number,
  rng: tf.Tensor1D,
  params: TokenChoiceParams,
): SampledRows {
  return sampleRows(logits, batch, rng, {
    temperature: params.temperature,
    topK: params.topK > 0 ? params.topK : 0,
    topP: params.topP,
  });
}

/** The per-sequence xoshiro128** states (4 uint32 words each) as the int32 [B·4] tensor the kernel updates. */
export function rngStates(states: readonly (readonly number[])[]): tf.Tensor1D {
  const words = Int32Array.from(states.flat(), (w) => w | 0);
  return tf.tensor1d(words, 'int32');
}

/**
 * The output `logSoftmaxRows` fills for `rows` prompt positions with `k` alternatives each:
 * float32 [rows · (1 + 2k)], every value written by the kernel. The caller disposes it.
 */
export function promptScoreRows(rows: number, k: number): tf.Tensor1D {
  return emptyTensor<tf.Tensor1D>([rows * (1 + 2 * k)]);
}
