/**
 * Pretraining data as fixed-length windows of one token stream, and the seeded order they are
 * visited in. Tokenizing is the caller's; this module only cuts and shuffles.
 *
 * Stream: `<|endoftext|>` d₀ `<|endoftext|>` d₁ … `<|endoftext|>` (one separator before each
 * document and one at the end), so every document start is predicted from a document boundary.
 * Windows: window w holds stream[w·T .. w·T + T] (T + 1 tokens): inputs are the first T, targets
 * the last T; consecutive windows share one token, so every stream token but the first is a target
 * exactly once per epoch.
 *
 * Order: the batch of step s (0-based) is the global window slots s·B .. s·B + B − 1; slot g is
 * window perm_e[g mod N] of epoch e = ⌊g / N⌋, where perm_e is a Fisher–Yates shuffle of 0..N−1 on
 * a mulberry32 stream seeded from (seed, e). The order is a pure function of (seed, step), so a run
 * resumed at step s sees exactly the batches the uninterrupted run would have.
 */
import { ValidationError } from '../../src/errors/loops-errors';
import { createRng } from '../../src/runtime/prng';

/** Concatenates tokenized documents with `separator` before each one and at the end. */
export function tokenStream(
  documents: readonly (readonly number[])[],
  separator: number,
): Int32Array {
  const total = documents.reduce((n, d) => n + d.length + 1, 1);
  const out = new Int32Array(total);
  let at = 0;
  for (const doc of documents) {
    out[at++] = separator;
    out.set(doc, at);
    at += doc.length;
  }
  out[at] = separator;
  return out;
}

export class TokenWindows {
  /** Number of whole windows (N). */
  readonly count: number;
  private readonly perms = new Map<number, Uint32Array>();

  constructor(
    readonly stream: Int32Array,
    /** Tokens per window input (T). */
    readonly length: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(length) || length < 1) {
      throw new ValidationError(`TokenWindows: window length ${length} must be an integer ≥ 1.`);
    }
    this.count = Math.floor((stream.length - 1) / length);
    if (this.count < 1) {
      throw new ValidationError(
        `TokenWindows: a stream of ${stream.length} tokens holds no window of ${length} + 1 ` +
          'tokens; use more text or a shorter window.',
      );
    }
  }

  /** Inputs and targets of window `w`, each T tokens (views into the stream). */
  window(w: number): { inputs: Int32Array; targets: Int32Array } {
    const start = w * this.length;
    return {
      inputs: this.stream.subarray(start, start + this.length),
      targets: this.stream.subarray(start + 1, start + 1 + this.length),
    };
  }

  /** Window indices of the batch of step `step` (batch size `batch`), per the module comment. */
  batchWindows(step: number, batch: number): number[] {
    const out: number[] = [];
    for (let b = 0; b < batch; b++) {
      const slot = step * batch + b;
      const epoch = Math.floor(slot / this.count);
      out.push(this.permutation(epoch)[slot % this.count] as number);
    }
    return out;
  }

  /** Flat row-major inputs and targets [batch·T] of the given windows. */
  gather(windows: readonly number[]): { inputs: Int32Array; targets: Int32Array } {
    const T = this.length;
    const inputs = new Int32Array(windows.length * T);
    const targets = new Int32Array(windows.length * T);
    windows.forEach((w, i) => {
      const win = this.window(w);
      inputs.set(win.inputs, i * T);
      targets.set(win.targets, i * T);
    });
    return { inputs, targets };
  }

  /** Epochs the first `steps` steps touch (fractional). */
  epochs(steps: number, batch: number): number {
    return (steps * batch) / this.count;
  }

  private permutation(epoch: number): Uint32Array {
    let perm = this.perms.get(epoch);
    if (!perm) {
      perm = shuffled(this.count, this.seed * 1_000_003 + epoch);
      this.perms.clear(); // only the current epoch is ever needed again
      this.perms.set(epoch, perm);
    }
    return perm;
  }
}

/** Fisher–Yates shuffle of 0..n−1 on a mulberry32 stream (runtime/prng.ts). */
export function shuffled(n: number, seed: number): Uint32Array {
  const rng = createRng(seed);
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = perm[i] as number;
    perm[i] = perm[j] as number;
    perm[j] = tmp;
  }
  return perm;
}
