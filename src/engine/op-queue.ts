/**
 * Serial execution per key (a run or a sampler): ops of one key run strictly in submission order,
 * one at a time; a failed op rejects its own promise and the next op still runs. Keys are
 * independent of each other. Each op starts in a new task (after a zero-delay timer), so messages,
 * timers and other keys' ops get a turn between long ops instead of waiting for a whole pipeline.
 *
 * An op may finish its work before its result is known: it returns a `Later`, the next op starts
 * at once, and the op's promise settles with the Later's. A forward_backward does this while its
 * loss waits on the device, so the optim_step behind it is recorded before anything is read back
 * (one readback for the pair; src/engine/runs.ts decides when to read).
 */

/** A result that arrives after its op has finished (the queue moves on without waiting). */
export class Later<T> {
  constructor(readonly result: Promise<T>) {
    // Whoever awaits the op gets the rejection; the Later itself must not be reported unhandled.
    result.catch(() => undefined);
  }
}

export class OpQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  /** Ops submitted and not yet finished, per key. */
  private readonly open = new Map<string, number>();

  /** Runs `op` after every op submitted earlier for `key`; resolves or rejects with its result. */
  submit<T>(key: string, op: () => Promise<T | Later<T>> | T | Later<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
    const start = () => nextTask().then(op);
    const ran = previous.then(start, start);
    const tail = ran.then(
      () => this.close(key),
      () => this.close(key),
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return ran.then((value) => (value instanceof Later ? (value.result as Promise<T>) : value));
  }

  /** True when no op of `key` is waiting or running (a Later's result may still be pending). */
  isIdle(key: string): boolean {
    return !this.open.has(key);
  }

  /** Resolves when every op submitted so far for `key` has finished. */
  async drain(key: string): Promise<void> {
    await this.tails.get(key);
  }

  private close(key: string): void {
    const left = (this.open.get(key) ?? 1) - 1;
    if (left > 0) this.open.set(key, left);
    else this.open.delete(key);
  }
}

function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
