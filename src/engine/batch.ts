/**
 * Turns wire datums into the padded tensors the model and losses take. Sequences are right-padded
 * to the longest one: causal attention never lets a real position see padding, and padded
 * positions get target −100 and zero loss inputs, so they contribute nothing to any loss.
 */
import * as tf from '@tensorflow/tfjs';
import type { WireDatum } from '../protocol/wire-types';

export interface Batch {
  /** [B, T] int32 */
  readonly tokens: tf.Tensor2D;
  /** [B, T] int32, −100 where ignored or padded */
  readonly targets: tf.Tensor2D;
  /** Float loss inputs flattened to [B·T] (zeros at padding), plus `mask` (1 = real target). */
  readonly inputs: Record<string, tf.Tensor1D>;
  readonly lengths: readonly number[];
  readonly width: number;
}

export const IGNORE_TARGET = -100;

/** Builds the batch tensors; the caller disposes them with `disposeBatch`. */
export function buildBatch(data: readonly WireDatum[]): Batch {
  const lengths = data.map((d) => d.tokens.length);
  const T = Math.max(1, ...lengths);
  const B = data.length;
  const tokens = new Int32Array(B * T);
  const targets = new Int32Array(B * T).fill(IGNORE_TARGET);
  const floats = new Map<string, Float32Array>();
  const mask = new Float32Array(B * T);
  data.forEach((d, b) => {
    tokens.set(d.tokens, b * T);
    const t = d.inputs.target_tokens;
    if (t) targets.set(t, b * T);
    for (let i = 0; i < d.tokens.length; i++)
      mask[b * T + i] = targets[b * T + i] === IGNORE_TARGET ? 0 : 1;
    for (const [key, values] of Object.entries(d.inputs)) {
      if (key === 'target_tokens') continue;
      let flat = floats.get(key);
      if (!flat) floats.set(key, (flat = new Float32Array(B * T)));
      flat.set(values, b * T);
    }
  });
  const inputs: Record<string, tf.Tensor1D> = { mask: tf.tensor1d(mask) };
  for (const [key, flat] of floats) inputs[key] = tf.tensor1d(flat);
  return {
    tokens: tf.tensor2d(tokens, [B, T], 'int32'),
    targets: tf.tensor2d(targets, [B, T], 'int32'),
    inputs,
    lengths,
    width: T,
  };
}

export function disposeBatch(batch: Batch): void {
  tf.dispose([batch.tokens, batch.targets, ...Object.values(batch.inputs)]);
}

/** Splits flat per-position values [B·T] back into one array per datum (its real length). */
export function splitRows(flat: Float32Array, batch: Batch): Float32Array[] {
  return batch.lengths.map((n, b) => flat.slice(b * batch.width, b * batch.width + n));
}
