/**
 * How the page reaches the engine: a link gives the engine's async interface plus the two things
 * that differ between placements: wrapping callbacks (comlink proxies) and transferring buffers.
 * Placements: a module Worker (browsers), an in-process engine (Node), or any comlink endpoint
 * (a `MessageChannel` port in tests). Every call races the link's death (the worker's error
 * event, the port's close event, or `close()`), so a dead engine rejects pending calls promptly
 * instead of leaving them hanging.
 */
import { proxy, releaseProxy, transfer, wrap, type Endpoint, type Remote } from 'comlink';
import { RemoteOpError } from '../errors/loops-errors';
import { installErrorTransfer } from '../errors/comlink-errors';
import type { EngineApi, EngineExitNotice } from '../protocol/engine-api';

export interface EngineLink {
  readonly engine: EngineApi;
  /** Makes a callback callable from the engine side. */
  callback<F extends (...args: never[]) => unknown>(fn: F): F;
  /** Marks `buffers` inside `value` for transfer (not copy) where the placement supports it. */
  transfer<T>(value: T, buffers: Transferable[]): T;
  /** Ends the engine's placement (terminates the worker); pending calls reject. */
  close(): void;
}

/** A comlink link over any endpoint (a Worker or a MessagePort). */
export function comlinkLink(
  endpoint: Endpoint,
  onClose: () => void,
  died?: Promise<never>,
): EngineLink {
  installErrorTransfer();
  const remote = wrap<EngineApi>(endpoint);
  // Pending calls' reject functions: death rejects them all. (Not Promise.race with a death
  // promise: every race would leave a reaction on that long-lived promise, keeping each call's
  // result reachable for the life of the link.)
  const pending = new Set<(error: Error) => void>();
  let dead: Error | null = null;
  const die = (error: Error): void => {
    if (dead) return;
    dead = error;
    for (const reject of pending) reject(error);
    pending.clear();
  };
  died?.catch(die);
  // A MessagePort fires 'close' when the other side goes away (Node always; browsers that support
  // it): the engine's thread ended, so nothing pending will ever be answered.
  endpoint.addEventListener('close' as 'message', () =>
    die(
      new RemoteOpError(
        "the engine's channel closed (its thread or worker ended); create a new ServiceClient and resume from your last save_state.",
        'WorkerError',
      ),
    ),
  );
  let isClosed = false;
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    // After death or close() (the comlink proxy is released then) nothing is sent.
    if (dead) return Promise.reject(dead);
    const remoteMethod = (
      remote as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
    )[method]!;
    return new Promise((resolve, reject) => {
      pending.add(reject);
      remoteMethod(...args)
        .then(resolve, reject)
        .finally(() => pending.delete(reject));
    });
  };
  // Every method name becomes a call, except `then`: a proxy with a `then` is a thenable, and
  // `await link.engine` would call it and wait forever. Symbols (inspection) are not methods.
  const engine = new Proxy({} as EngineApi, {
    get: (_, method: string | symbol) =>
      method === 'then' || typeof method === 'symbol'
        ? undefined
        : (...args: unknown[]) => call(method, args),
  });
  return {
    engine,
    callback: (fn) => proxy(fn),
    transfer: (value, buffers) => transfer(value, buffers),
    close() {
      if (isClosed) return;
      isClosed = true;
      die(
        new RemoteOpError(
          'the engine was closed; create a new ServiceClient to continue.',
          'EngineClosedError',
        ),
      );
      (remote as Remote<EngineApi>)[releaseProxy]();
      onClose();
    },
  };
}

/**
 * The engine in a module Worker (the browser default), or in `worker` when given (a worker script
 * that exposes an engine the same way). An uncaught error in the worker, a message it cannot
 * deserialise, or its notice that it is ending itself (`EngineExitNotice`) ends the link: every
 * pending and later call rejects with `RemoteOpError` (`WorkerError`), and the worker is terminated
 * so it frees its GPU device.
 */
export function workerLink(worker?: Worker): EngineLink {
  const w =
    worker ??
    new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), {
      type: 'module',
      name: 'loops-engine',
    });
  const died = new Promise<never>((_, reject) => {
    const fail = (what: string) => {
      reject(
        new RemoteOpError(
          `the engine worker failed: ${what}; create a new ServiceClient (resume from your last save_state).`,
          'WorkerError',
        ),
      );
      w.terminate();
    };
    w.addEventListener('error', (event) => fail(event.message || 'unknown error'));
    w.addEventListener('messageerror', () => fail('a message from it could not be read'));
    w.addEventListener('message', (event: MessageEvent<Partial<EngineExitNotice> | null>) => {
      const notice = event.data?.loopsEngineExit;
      if (typeof notice === 'string') fail(notice);
    });
  });
  died.catch(() => undefined);
  return comlinkLink(w, () => w.terminate(), died);
}

/** An engine object in this thread (Node); calls are plain method calls. */
export function inProcessLink(
  engine: EngineApi,
  onClose: () => void = () => undefined,
): EngineLink {
  return { engine, callback: (fn) => fn, transfer: (value) => value, close: onClose };
}

/** Starts the engine in a Worker; kept for the app's engine status page and harness pages. */
export function startWorkerEngine(): { engine: EngineApi; terminate(): void } {
  const link = workerLink();
  return { engine: link.engine, terminate: () => link.close() };
}
