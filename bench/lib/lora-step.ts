/**
 * Times one LoRA training step as the engine runs it: forward and backward (`tf.variableGrads` of
 * L = Σ lp, the summed log-probs of next-token targets for a B×T batch of random tokens, w.r.t.
 * the adapter's A and B), then one AdamW update of the adapter (the engine's optimizer).
 *
 * Memory, three readings of `tf.memory().numBytes` (tensor bytes the backend holds):
 * - after the forward, sampled inside the loss function: weights + adapter + every activation the
 *   tape saved, the forward's high-water mark (the brief's measure, cheap, taken each rep);
 * - the peak over one untimed step at allocation granularity (peak-memory.ts): distinct buffers,
 *   and numBytes (which counts clones twice);
 * - after the step, with the gradients still held.
 */
import * as tf from '@tensorflow/tfjs';
import type { LoraAdapter } from '../../src/lora/adapter';
import type { CausalLM } from '../../src/model/causal-lm';
import { ADAM_DEFAULTS, AdamW } from '../../src/optim/adamw';
import { trackPeak } from './peak-memory';
import { median, repeat, timed } from './timing';

export interface StepOptions {
  readonly batch: number;
  readonly seq: number;
  /** Untimed steps before the timed ones (first-call setup). */
  readonly warmup: number;
  readonly reps: number;
  readonly seed: number;
  /**
   * Pass the loss's ∂L/∂lp (−1 at every position) as the gradient hint, as the engine does for
   * cross_entropy (CausalLM.targetLogprobs `gradHint`); default true.
   */
  readonly gradHint?: boolean;
}

export interface StepResult {
  readonly batch: number;
  readonly seq: number;
  /** The first step: kernel setup, first allocations (and the first Adam moments). */
  readonly firstStepMs: number;
  /** Whether the model checkpointed its blocks for this batch (CausalLM.checkpoints). */
  readonly checkpointed: boolean;
  readonly samplesMs: number[];
  readonly medianMs: number;
  /** B·T / median step time. */
  readonly tokensPerSecond: number;
  /** Σ lp of the last step (a sanity figure: about −B·T·ln V for random weights). */
  readonly loss: number;
  readonly bytesBefore: number;
  readonly bytesAfterForward: number;
  /** Distinct tensor buffers' high-water mark during one step (what the device holds). */
  readonly peakBufferBytes: number;
  /** `tf.memory().numBytes`' high-water mark (counts clones twice). */
  readonly peakNumBytes: number;
  readonly bytesAfterStep: number;
  /** Time per kernel name in the profiled step (see `profiledStep`). */
  readonly kernels: KernelBreakdown;
}

/** Measures the step on `model` (whose adapter is `adapter`); leaves no tensors behind. */
export async function measureLoraStep(
  model: CausalLM,
  adapter: LoraAdapter,
  options: StepOptions,
): Promise<StepResult> {
  const { batch: B, seq: T } = options;
  const ids = randomTokens(B * (T + 1), model.config.vocabSize, options.seed);
  const rows = (from: number) =>
    Array.from({ length: B }, (_, b) => ids.slice(b * (T + 1) + from, b * (T + 1) + from + T));
  const tokens = tf.tensor2d(rows(0), [B, T], 'int32'); // [B, T]
  const targets = tf.tensor2d(rows(1), [B, T], 'int32'); // [B, T], tokens shifted by one
  const readings = {
    bytesBefore: tf.memory().numBytes,
    bytesAfterForward: 0,
    bytesAfterStep: 0,
    loss: Number.NaN,
  };
  const optimizer = new AdamW();
  const hint = options.gradHint !== false ? (tf.fill([B, T], -1) as tf.Tensor2D) : null;
  const step = () => lossAndGrads(model, adapter, optimizer, tokens, targets, hint, readings);
  try {
    const firstStepMs = (await timed(step)).ms;
    for (let i = 1; i < options.warmup; i++) await step();
    const { peakBufferBytes, peakNumBytes } = await trackPeak(step);
    const kernels = await profiledStep(step);
    const samplesMs = await repeat(step, { warmup: 0, reps: options.reps });
    const medianMs = median(samplesMs);
    const tokensPerSecond = (B * T) / (medianMs / 1000);
    const checkpointed = model.checkpoints(B, T);
    const shape = { batch: B, seq: T, firstStepMs, checkpointed };
    const figures = {
      samplesMs,
      medianMs,
      tokensPerSecond,
      peakBufferBytes,
      peakNumBytes,
      kernels,
    };
    return { ...shape, ...figures, ...readings };
  } finally {
    tf.dispose([tokens, targets, ...(hint ? [hint] : [])]);
    optimizer.dispose();
  }
}

interface Readings {
  readonly bytesBefore: number;
  bytesAfterForward: number;
  bytesAfterStep: number;
  loss: number;
}

/** One forward + backward + AdamW update; updates `readings` and frees the gradients. */
async function lossAndGrads(
  model: CausalLM,
  adapter: LoraAdapter,
  optimizer: AdamW,
  tokens: tf.Tensor2D,
  targets: tf.Tensor2D,
  hint: tf.Tensor2D | null,
  readings: Readings,
): Promise<void> {
  // The cross-entropy of the engine with unit weights: L = −Σ lp, ∂L/∂lp = −1 (the hint).
  const { value, grads } = tf.variableGrads(() => {
    const lp = model.targetLogprobs(tokens, targets, hint ?? undefined); // [B, T]
    readings.bytesAfterForward = Math.max(readings.bytesAfterForward, tf.memory().numBytes);
    return tf.neg(tf.sum(lp)) as tf.Scalar;
  }, adapter.variables);
  const all = [value, ...Object.values(grads)];
  try {
    readings.bytesAfterStep = tf.memory().numBytes;
    const ordered = adapter.variables.map((v) => grads[v.name] as tf.Tensor);
    await optimizer.step(adapter.variables, ordered, ADAM_DEFAULTS); // reads back the grad norm
    readings.loss = -((await value.data())[0] as number); // Σ lp
  } finally {
    tf.dispose(all);
  }
}

/** Per kernel name: total milliseconds and calls within one profiled step. */
export type KernelBreakdown = Record<string, { ms: number; calls: number }>;

/**
 * One step under `tf.profile`, without NaN checks on every output: the time per kernel name.
 * Profiling reads back every kernel's output, so its times run high; use them as shares. (Its
 * peakBytes is not used: profiling keeps more alive than a plain step.)
 */
async function profiledStep(fn: () => Promise<void>): Promise<KernelBreakdown> {
  const env = tf.env();
  const check = env.getBool('CHECK_COMPUTATION_FOR_ERRORS');
  env.set('CHECK_COMPUTATION_FOR_ERRORS', false);
  try {
    const info = await tf.profile(fn);
    const kernels: KernelBreakdown = {};
    for (const k of info.kernels) {
      const entry = (kernels[k.name] ??= { ms: 0, calls: 0 });
      entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      entry.calls += 1;
    }
    return kernels;
  } catch (error) {
    // tf.profile ends with Math.max(...snapshots), one argument per kernel: past ~10⁵ kernels
    // (a checkpointed 8×256 step of 30 layers) that overflows the stack. No breakdown then.
    if (error instanceof RangeError) return {};
    throw error;
  } finally {
    env.set('CHECK_COMPUTATION_FOR_ERRORS', check);
  }
}

/** `n` token ids in [0, vocab) from a seeded LCG (Numerical Recipes constants). */
export function randomTokens(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * vocab);
  });
}
