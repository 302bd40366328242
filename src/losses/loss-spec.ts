/**
 * What a built-in loss is: its inputs, its config, its value and its metrics.
 *
 * Every loss is token-level and SUMMED over positions (no mean), as Tinker and Loops define them
 * (shared/LOOPS_API.md, "Losses"; shared/reference/loops-api-notes.md §6). The engine concatenates
 * the datums of a batch, so all per-position tensors here are 1-D of length N (all positions of all
 * datums). This module holds the shared types; each loss lives in its own file and the registry
 * (`registry.ts`) maps Loops names to them. What a loss accepts (inputs, config, checks) is its
 * TF-free schema in src/core/loss-schema.ts; a spec adds the value and the metrics. Turning
 * `loss_fn_inputs` into tensors, checking lengths and gathering `lp` are the engine's job.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LossConfig, LossName, LossSchema } from '../core/loss-schema';
import { ValidationError } from '../errors/loops-errors';

export type { LossConfig, LossInputKey, LossName, LossSchema } from '../core/loss-schema';

/**
 * Per-position inputs of one batch, each `[N]` float32, owned by the caller.
 * `mask` is always present (1 where the target is a real token, 0 where it is −100); the others
 * are present when the Datums carried them.
 */
export interface LossTensors {
  readonly mask: tf.Tensor1D;
  readonly weights?: tf.Tensor1D;
  /** The sampler's log-probs q of the targets. */
  readonly logprobs?: tf.Tensor1D;
  readonly advantages?: tf.Tensor1D;
}

/** Metric tensors keyed `name:reduction` (for example `loss:sum`, `ratio:mean`); caller disposes. */
export type MetricTensors = Record<string, tf.Scalar>;

/** A loss's schema (what it accepts) plus what it computes. */
export interface LossSpec extends LossSchema {
  /**
   * The summed loss for target log-probs `lp` [N] (0 at ignored positions). Differentiable w.r.t.
   * `lp`; returns a new scalar.
   */
  compute(lp: tf.Tensor1D, inputs: LossTensors, config: LossConfig): tf.Scalar;
  /** `loss:sum` and the loss's own diagnostics, as new scalars (not differentiated). */
  metrics(lp: tf.Tensor1D, inputs: LossTensors, config: LossConfig): MetricTensors;
  /**
   * ∂loss/∂lp [N], for a loss whose gradient does not depend on lp (cross_entropy: −mask·w): the
   * engine hands it to the model before the forward pass (CausalLM.targetLogprobs `gradHint`).
   * Absent for losses whose gradient depends on lp. Returns a new tensor.
   */
  lpGradient?(inputs: LossTensors, config: LossConfig): tf.Tensor1D;
}

/** The tensor `key` from `inputs`, or an error naming the loss and the missing key. */
export function requireInput(
  inputs: LossTensors,
  key: 'weights' | 'logprobs' | 'advantages',
  loss: LossName,
): tf.Tensor1D {
  const t = inputs[key];
  if (!t) {
    throw new ValidationError(
      `Loss '${loss}' needs the per-position input '${key}' but none was given; add ` +
        `'${key}' (float32, one per position) to every Datum's loss_fn_inputs.`,
    );
  }
  return t;
}

/** Reads metric scalars into numbers and disposes them. */
export async function readMetrics(metrics: MetricTensors): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    for (const [key, t] of Object.entries(metrics)) out[key] = (await t.data())[0] ?? NaN;
  } finally {
    for (const t of Object.values(metrics)) t.dispose();
  }
  return out;
}
