/**
 * The server's futures: every async route answers `{request_id}` at once and the result is fetched
 * with `retrieve_future`. A retrieve waits (holds the HTTP answer) up to `longPollMs` for the op to
 * finish, then answers `{type: "try_again"}` so the client asks again (tinker 0.24.1,
 * types/try_again_response.py). A failed op answers `{error, category}` (types/
 * request_failed_response.py) plus the engine's error class, so the client rebuilds the same typed
 * error. Finished results are kept `keepMs` after they finish (a client whose answer was lost asks
 * again), and at most `maxKept` of them.
 */
import { LoopsError, RemoteOpError, toWireError } from '../errors/loops-errors';
import type { RequestFailedResponse, TryAgainResponse } from '../protocol/tinker-wire';

type Outcome = { ok: true; value: unknown } | { ok: false; failure: RequestFailedResponse };

interface Entry {
  outcome: Outcome | null;
  finishedAt: number;
  readonly waiters: Set<() => void>;
}

export interface FutureStoreOptions {
  /** How long one retrieve_future waits for the op before answering try_again; default 10 s. */
  readonly longPollMs: number;
  /** How long a finished result stays retrievable; default 10 min. */
  readonly keepMs: number;
  /** Most finished results kept; default 10 000. */
  readonly maxKept: number;
}

export const DEFAULT_FUTURE_OPTIONS: FutureStoreOptions = Object.freeze({
  longPollMs: 10_000,
  keepMs: 600_000,
  maxKept: 10_000,
});

/** An engine failure as the protocol's `RequestFailedResponse` (with loops-web's error class). */
export function failureOf(error: unknown): RequestFailedResponse & { cause_class?: string } {
  const wire = toWireError(error);
  // A LoopsError other than a failed op (validation, unknown checkpoint, bad file) is the caller's.
  const user = error instanceof LoopsError && !(error instanceof RemoteOpError);
  return {
    error: wire.message,
    category: user ? 'user' : 'server',
    error_class: wire.error_class,
    ...(wire.cause_class ? { cause_class: wire.cause_class } : {}),
  };
}

export class FutureStore {
  private readonly entries = new Map<string, Entry>();
  private next = 1;

  constructor(private readonly options: FutureStoreOptions = DEFAULT_FUTURE_OPTIONS) {}

  /** A new request id whose result is `work`'s. */
  add(work: Promise<unknown>): string {
    const id = String(this.next++);
    const entry: Entry = { outcome: null, finishedAt: 0, waiters: new Set() };
    this.entries.set(id, entry);
    const finish = (outcome: Outcome) => {
      entry.outcome = outcome;
      entry.finishedAt = Date.now();
      for (const wake of entry.waiters) wake();
      entry.waiters.clear();
      this.evict();
    };
    work.then(
      (value) => finish({ ok: true, value }),
      (error: unknown) => finish({ ok: false, failure: failureOf(error) }),
    );
    return id;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The result body, the failure body, or try_again after waiting; null for an unknown id. */
  async retrieve(id: string): Promise<unknown> {
    const entry = this.entries.get(id);
    if (!entry) return null;
    if (!entry.outcome) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          entry.waiters.delete(wake);
          resolve();
        }, this.options.longPollMs);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        entry.waiters.add(wake);
      });
    }
    const outcome = entry.outcome;
    if (!outcome) {
      const tryAgain: TryAgainResponse = {
        type: 'try_again',
        request_id: id,
        queue_state: 'active',
      };
      return tryAgain;
    }
    return outcome.ok ? outcome.value : outcome.failure;
  }

  /** Wakes every waiting retrieve (the server is stopping). */
  wakeAll(): void {
    for (const entry of this.entries.values()) {
      for (const wake of entry.waiters) wake();
      entry.waiters.clear();
    }
  }

  private evict(): void {
    const now = Date.now();
    let finished = 0;
    for (const e of this.entries.values()) if (e.outcome) finished++;
    for (const [id, e] of this.entries) {
      if (!e.outcome) continue;
      if (now - e.finishedAt > this.options.keepMs || finished > this.options.maxKept) {
        this.entries.delete(id);
        finished--;
      }
    }
  }
}
