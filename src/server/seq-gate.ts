/**
 * Runs a model's ops in `seq_id` order, as the Tinker protocol numbers them (1, 2, 3, … per model,
 * in the order the client called them; tinker 0.24.1 lib/public_interfaces/training_client.py). An
 * op that arrives early waits for the ones before it, up to `gapMs`; after that the gap is given up
 * (its op was lost) and the waiting ops run. A resent op (same model and seq_id, same body, for
 * example after a lost answer) gets the request id it got the first time; the same seq_id with a
 * different body is refused, as SkyRL's server refuses it. Ops without a seq_id run on arrival.
 */

interface ModelOrder {
  next: number;
  readonly waiting: Map<number, () => void>;
  timer: ReturnType<typeof setTimeout> | null;
  /** seq_id → [body digest, request id]. */
  readonly seen: Map<number, readonly [string, string]>;
}

export class SeqConflict extends Error {}

export class SeqGate {
  private readonly models = new Map<string, ModelOrder>();

  constructor(private readonly gapMs = 30_000) {}

  /** Starts ordering `modelId`'s ops; its next op is `firstSeq`. */
  open(modelId: string, firstSeq = 1): void {
    this.models.set(modelId, { next: firstSeq, waiting: new Map(), timer: null, seen: new Map() });
  }

  /** Stops ordering `modelId`; ops still waiting run now (and fail: their model is gone). */
  close(modelId: string): void {
    const order = this.models.get(modelId);
    if (!order) return;
    if (order.timer) clearTimeout(order.timer);
    this.models.delete(modelId);
    for (const seq of [...order.waiting.keys()].sort((a, b) => a - b)) order.waiting.get(seq)!();
  }

  /** The request id already given to this (model, seq_id, body); throws `SeqConflict` on a reuse. */
  replay(modelId: string, seqId: number | undefined, digest: string): string | null {
    if (seqId === undefined) return null;
    const seen = this.models.get(modelId)?.seen.get(seqId);
    if (!seen) return null;
    if (seen[0] !== digest)
      throw new SeqConflict(
        `seq_id ${seqId} of model ${modelId} was already used for another request`,
      );
    return seen[1];
  }

  /** Runs `start` in `seqId`'s turn (at once when `seqId` is undefined or its turn has come). */
  admit(
    modelId: string,
    seqId: number | undefined,
    digest: string,
    requestId: string,
    start: () => void,
  ): void {
    const order = this.models.get(modelId);
    if (!order || seqId === undefined) return start();
    order.seen.set(seqId, [digest, requestId]);
    // Resends come soon after the original; the oldest entries are no longer needed.
    if (order.seen.size > 1024) order.seen.delete(order.seen.keys().next().value!);
    if (seqId < order.next) return start(); // a slot given up earlier: run now
    order.waiting.set(seqId, start);
    this.flush(modelId, order);
  }

  private flush(modelId: string, order: ModelOrder): void {
    while (order.waiting.has(order.next)) {
      const start = order.waiting.get(order.next)!;
      order.waiting.delete(order.next);
      order.next++;
      start();
    }
    if (order.timer) clearTimeout(order.timer);
    order.timer = null;
    if (order.waiting.size === 0) return;
    order.timer = setTimeout(() => {
      // The op at `next` never came: skip to the first one that did.
      order.next = Math.min(...order.waiting.keys());
      this.flush(modelId, order);
    }, this.gapMs);
    order.timer.unref?.();
  }
}
