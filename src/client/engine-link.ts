/**
 * How the page reaches the engine: a link gives the engine's async interface plus the two things
 * that differ between placements: wrapping callbacks (comlink proxies) and transferring buffers.
 * Placements: a module Worker (browsers), an in-process engine (Node), or any comlink endpoint
 * (a `MessageChannel` port in tests). Every call races the link's death, so a dead worker rejects
 * pending calls promptly instead of leaving them hanging.
 */
import { proxy, releaseProxy, transfer, wrap, type Endpoint, type Remote } from 'comlink';
import { RemoteOpError } from '../errors/loops-errors';
import { installErrorTransfer } from '../errors/comlink-errors';
import type { EngineApi } from '../protocol/engine-api';

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
  let fail: (error: Error) => void = () => undefined;
  const closed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  closed.catch(() => undefined);
  const gone = died ? Promise.race([died, closed]) : closed;
  gone.catch(() => undefined);
  const engine = new Proxy({} as EngineApi, {
    get:
      (_, method: string) =>
      (...args: unknown[]) =>
        Promise.race([
          (remote as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(
            ...args,
          ),
          gone,
        ]),
  });
  return {
    engine,
    callback: (fn) => proxy(fn),
    transfer: (value, buffers) => transfer(value, buffers),
    close() {
      fail(
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

/** The engine in a module Worker (the browser default). */
export function workerLink(): EngineLink {
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), {
    type: 'module',
    name: 'loops-engine',
  });
  const died = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (event) => {
      reject(
        new RemoteOpError(
          `the engine worker failed: ${event.message || 'unknown error'}; create a new ServiceClient.`,
          'WorkerError',
        ),
      );
    });
  });
  died.catch(() => undefined);
  return comlinkLink(worker, () => worker.terminate(), died);
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
