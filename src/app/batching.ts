/**
 * From token sequences to training batches:
 * - `sequenceToDatum`: the shift of supervised learning (Loops API, "Datum"): inputs are
 *   tokens[0..n−2], `target_tokens` are tokens[1..n−1] and `weights` are 1 where the target is
 *   supervised, 0 where it is prompt. cross_entropy then sums −w·log p(target) over positions.
 * - `BatchSchedule`: which examples make step s's batch: epochs of a seeded shuffle, taken in
 *   order, so the same seed and step give the same batch (a resumed run continues the sequence).
 * - `meanNll`: −Σ w·lp / Σ w over a batch, the per-token loss the chart shows (nats).
 * - `heldoutSplit`: every k-th example held out when the user brings no held-out file.
 */
import { Datum, ModelInput } from '../index';
import type { TokenSequence } from './dataset-tokens';

/** A Datum for `seq`, or null when it has no supervised target (nothing to learn). */
export function sequenceToDatum(seq: TokenSequence): Datum | null {
  if (seq.tokens.length < 2) return null;
  const inputs = seq.tokens.slice(0, -1);
  const targets = seq.tokens.slice(1);
  const weights = seq.supervised.slice(1).map((s) => (s ? 1 : 0));
  if (!weights.some((w) => w > 0)) return null;
  return new Datum({
    model_input: ModelInput.from_ints(inputs),
    loss_fn_inputs: { target_tokens: targets, weights },
  });
}

/** mulberry32: a small, well-mixed 32-bit PRNG (Tommy Ettinger, public domain). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A permutation of 0..n−1 (Fisher–Yates with mulberry32). */
export function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

export class BatchSchedule {
  private readonly epochs = new Map<number, number[]>();

  /**
   * @param count number of training examples (≥ 1)
   * @param batchSize examples per step; capped at `count` so a step never repeats an example
   * @param seed shuffle seed; epoch e uses seed + e
   */
  constructor(
    readonly count: number,
    batchSize: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`BatchSchedule needs at least one example, got ${count}.`);
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batch size must be a positive integer, got ${batchSize}.`);
    }
    this.batchSize = Math.min(batchSize, count);
  }

  readonly batchSize: number;

  /** Example indices of step `step` (0-based): positions step·B … step·B + B − 1 of the epochs. */
  batchAt(step: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.batchSize; k++) {
      const position = step * this.batchSize + k;
      const epoch = Math.floor(position / this.count);
      out.push(this.order(epoch)[position % this.count] as number);
    }
    return out;
  }

  private order(epoch: number): number[] {
    let order = this.epochs.get(epoch);
    if (!order) {
      order = shuffled(this.count, this.seed + epoch);
      this.epochs.set(epoch, order);
      if (this.epochs.size > 4) this.epochs.delete(this.epochs.keys().next().value as number);
    }
    return order;
  }
}

/** Σ −w·lp and Σ w of one batch, from per-datum target log-probs and the datums' weights. */
export function weightedNll(
  logprobs: readonly ArrayLike<number>[],
  batch: readonly Datum[],
): { nll: number; weight: number } {
  let nll = 0;
  let weight = 0;
  batch.forEach((datum, d) => {
    const lp = logprobs[d] ?? [];
    const w = datum.loss_fn_inputs['weights']?.data ?? [];
    for (let i = 0; i < w.length; i++) {
      nll -= (w[i] as number) * ((lp[i] as number | undefined) ?? 0);
      weight += w[i] as number;
    }
  });
  return { nll, weight };
}

/** Mean NLL per supervised token (nats); 0 for a batch without supervised tokens. */
export function meanNll(logprobs: readonly ArrayLike<number>[], batch: readonly Datum[]): number {
  const { nll, weight } = weightedNll(logprobs, batch);
  return weight === 0 ? 0 : nll / weight;
}

/** Input tokens of a batch (what the model reads; tokens/s counts these). */
export function batchTokens(batch: readonly Datum[]): number {
  return batch.reduce((n, d) => n + d.model_input.length, 0);
}

/**
 * Indices kept for training and held out: every `every`-th example (from index every − 1) is held
 * out when there are at least `2·every` examples; otherwise nothing is held out.
 */
export function heldoutSplit(count: number, every = 10): { train: number[]; heldout: number[] } {
  const train: number[] = [];
  const heldout: number[] = [];
  for (let i = 0; i < count; i++) {
    if (count >= 2 * every && i % every === every - 1) heldout.push(i);
    else train.push(i);
  }
  return { train, heldout };
}
