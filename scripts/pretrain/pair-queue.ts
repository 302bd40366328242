/**
 * A max-priority queue of (pair key, count) entries for the BPE trainer: the most frequent pair
 * first, ties broken by a caller-given order on keys, so the trainer's merge order is a pure
 * function of the counts.
 *
 * It is a binary heap with lazy deletion: when a pair's count changes the trainer pushes a new
 * entry and leaves the old one in place; `pop` returns entries whose count no longer matches the
 * live count, and the trainer drops those (see bpe-trainer.ts). That keeps each update O(log n)
 * without a position index.
 */

/** Whether key `a` goes before key `b` when their counts are equal. */
export type KeyOrder = (a: number, b: number) => boolean;

export interface PairEntry {
  readonly key: number;
  readonly count: number;
}

export class PairQueue {
  private readonly keys: number[] = [];
  private readonly counts: number[] = [];

  constructor(private readonly tieBefore: KeyOrder) {}

  get size(): number {
    return this.keys.length;
  }

  push(key: number, count: number): void {
    this.keys.push(key);
    this.counts.push(count);
    this.siftUp(this.keys.length - 1);
  }

  /** The highest entry, removed; `undefined` when empty. */
  pop(): PairEntry | undefined {
    const n = this.keys.length;
    if (n === 0) return undefined;
    const top = { key: this.keys[0] as number, count: this.counts[0] as number };
    const lastKey = this.keys.pop() as number;
    const lastCount = this.counts.pop() as number;
    if (n > 1) {
      this.keys[0] = lastKey;
      this.counts[0] = lastCount;
      this.siftDown(0);
    }
    return top;
  }

  /** Whether the entry at i ranks above the entry at j. */
  private above(i: number, j: number): boolean {
    const ci = this.counts[i] as number;
    const cj = this.counts[j] as number;
    if (ci !== cj) return ci > cj;
    return this.tieBefore(this.keys[i] as number, this.keys[j] as number);
  }

  private swap(i: number, j: number): void {
    const k = this.keys[i] as number;
    const c = this.counts[i] as number;
    this.keys[i] = this.keys[j] as number;
    this.counts[i] = this.counts[j] as number;
    this.keys[j] = k;
    this.counts[j] = c;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < n && this.above(left, best)) best = left;
      if (right < n && this.above(right, best)) best = right;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }
}
