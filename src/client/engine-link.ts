/**
 * Starts the engine in a module Worker and returns its comlink proxy. Only plain data crosses;
 * typed errors are rebuilt on this side (see errors/comlink-errors).
 */
import { wrap, releaseProxy, type Remote } from 'comlink';
import { installErrorTransfer } from '../errors/comlink-errors';
import type { EngineApi } from '../protocol/engine-api';

export interface WorkerEngineLink {
  readonly engine: Remote<EngineApi>;
  /** Ends the worker; pending calls never settle after this, so callers reject them first. */
  terminate(): void;
}

export function startWorkerEngine(): WorkerEngineLink {
  installErrorTransfer();
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), {
    type: 'module',
    name: 'loops-engine',
  });
  const engine = wrap<EngineApi>(worker);
  return {
    engine,
    terminate() {
      engine[releaseProxy]();
      worker.terminate();
    },
  };
}
