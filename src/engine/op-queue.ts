/**
 * Serial execution per key (a run or a sampler): ops of one key run strictly in submission order,
 * one at a time; a failed op rejects its own promise and the next op still runs. Keys are
 * independent of each other. Each op starts in a new task (after a zero-delay timer), so messages,
 * timers and other keys' ops get a turn between long ops instead of waiting for a whole pipeline.
 */
export class OpQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `op` after every op submitted earlier for `key`; resolves or rejects with its result. */
  submit<T>(key: string, op: () => Promise<T> | T): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const start = () => nextTask().then(op);
    const result = previous.then(start, start);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves when every op submitted so far for `key` has settled. */
  async drain(key: string): Promise<void> {
    await this.tails.get(key);
  }
}

function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
