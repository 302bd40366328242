/**
 * AdamW's stock-op state and update (see adamw.ts for the maths and its sources): one pair of
 * moment variables per parameter, made from zeros or saved moments, and torch's update of one
 * parameter. The `AdamW` class decides when they are made and used; on webgpu with our kernels on
 * the moments live in an arena instead (adamw-arena.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { AdamHyperparams } from '../core/adam-params';
import { ValidationError } from '../errors/loops-errors';
import type { AdamWState } from './adamw';

/** The first and second moments of one parameter, shaped like it. */
export interface Moments {
  readonly m: tf.Variable;
  readonly v: tf.Variable;
}

/** Moment variables shaped like `params`: zeros, or `saved` (checked in full before allocating). */
export function createMoments(
  params: readonly tf.Variable[],
  saved: AdamWState['moments'] | null,
): Moments[] {
  if (saved) checkSaved(params, saved);
  return params.map((p, i) => {
    // tidy disposes the initial values; variables survive it.
    const make = (data: Float32Array | undefined) =>
      tf.tidy(() => tf.variable(data ? tf.tensor(data, p.shape) : tf.zerosLike(p), false));
    return { m: make(saved?.[i]?.m), v: make(saved?.[i]?.v) };
  });
}

/** Saved moments must match the parameters in count and sizes (checked before allocating). */
export function checkSaved(params: readonly tf.Variable[], saved: AdamWState['moments']): void {
  if (saved.length !== params.length) {
    throw new ValidationError(
      `Optimizer state holds moments for ${saved.length} parameters but ${params.length} ` +
        'are being trained; load it into a run with the same adapter (rank and targets).',
    );
  }
  params.forEach((p, i) => {
    const size = saved[i]?.m.length ?? p.size;
    if (size !== p.size) {
      throw new ValidationError(
        `Optimizer state: parameter ${i} ('${p.name}') has ${p.size} values but the saved ` +
          `moments have ${size}; load it into a run with the same adapter.`,
      );
    }
  });
}

/** The torch update for one parameter; assigns p, m, v in place. */
export function updateOne(
  p: tf.Variable,
  g: tf.Tensor,
  { m, v }: Moments,
  hp: AdamHyperparams,
  t: number,
): void {
  const { learning_rate: lr, beta1, beta2, eps, weight_decay: wd } = hp;
  const stepSize = lr / (1 - beta1 ** t);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
  const w = 1 - beta1;
  tf.tidy(() => {
    const decayed = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p; // [*]
    // torch's lerp kernel: self + w·(end − self) for w < 0.5, else end − (1 − w)·(end − self).
    const diff = tf.sub(g, m); // [*]
    const m1 = w < 0.5 ? tf.add(m, tf.mul(diff, w)) : tf.sub(g, tf.mul(diff, 1 - w)); // [*]
    const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.mul(g, 1 - beta2), g)); // [*]
    const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), eps); // [*]
    const p1 = tf.sub(decayed, tf.mul(tf.div(m1, denom), stepSize)); // [*]
    m.assign(m1);
    v.assign(v1);
    p.assign(p1);
  });
}
