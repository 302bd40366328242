/**
 * Futures of the Loops API. A call submits its op at once and returns an `OperationFuture`;
 * `await future` and `await future.result(timeoutSeconds)` both give the value. A timeout rejects
 * with `TimeoutError` and leaves the op running; a failed op rejects with its typed error.
 */
import { TimeoutError } from '../errors/loops-errors';
import type { ForwardBackwardOutput } from './types/forward-backward-output';

export class OperationFuture<T> implements PromiseLike<T> {
  private readonly promise: Promise<T>;
  private settled = false;

  constructor(promise: Promise<T>) {
    this.promise = promise.finally(() => {
      this.settled = true;
    });
    // A future nobody awaits must not crash the page with an unhandled rejection: the error is
    // still delivered to whoever awaits it later.
    this.promise.catch(() => undefined);
  }

  /** Whether the op has finished (successfully or not). */
  done(): boolean {
    return this.settled;
  }

  /** The value; with `timeoutSeconds`, rejects with `TimeoutError` if the op takes longer. */
  result(timeoutSeconds?: number | null): Promise<T> {
    if (timeoutSeconds === undefined || timeoutSeconds === null) return this.promise;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new TimeoutError(
              `the op did not finish within ${timeoutSeconds} s; it is still running — call result() again to keep waiting.`,
            ),
          ),
        Math.max(0, timeoutSeconds * 1000),
      );
      this.promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Python's `result_async()`: the same as `result()`. */
  result_async(timeoutSeconds?: number | null): Promise<T> {
    return this.result(timeoutSeconds);
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.promise.then(onFulfilled, onRejected);
  }
}

/**
 * What the `_async` twins resolve with. JavaScript promises flatten anything with a `then`, so a
 * `Promise<OperationFuture>` cannot exist; the twins resolve (once submitted) with this handle
 * instead, and Python's `fut = await tc.x_async(...); out = await fut.result_async()` ports as is.
 */
export interface SubmittedOp<T> {
  result(timeoutSeconds?: number | null): Promise<T>;
  result_async(timeoutSeconds?: number | null): Promise<T>;
  done(): boolean;
  /** The awaitable future itself. */
  readonly future: OperationFuture<T>;
}

/**
 * The `_async` form of a future: a non-thenable handle, resolved once the op has been sent to the
 * engine (`sent`; at once unless an earlier op holds the client's order, see submit-order.ts).
 */
export function submitted<T>(
  future: OperationFuture<T>,
  sent: Promise<void> = Promise.resolve(),
): Promise<SubmittedOp<T>> {
  return sent.then(() => ({
    result: (t?: number | null) => future.result(t),
    result_async: (t?: number | null) => future.result(t),
    done: () => future.done(),
    future,
  }));
}

export class ForwardBackwardFuture extends OperationFuture<ForwardBackwardOutput> {}
