/**
 * What the engine's parts share: the model registry, the ordered op queue, the checkpoint store
 * and the readiness check. `Engine` (engine.ts) owns one and hands it to its runs, samplers and
 * checkpoint library; none of them owns the others' state.
 */
import type { BackendReport } from '../runtime/backend';
import type { MemoryEstimate } from './memory-budget';
import type { CheckpointStore } from '../storage/checkpoint-store';
import type { ModelRegistry } from './model-registry';
import type { OpQueue } from './op-queue';

export interface EngineContext {
  readonly registry: ModelRegistry;
  readonly queue: OpQueue;
  /** The checkpoint store; a ValidationError before `init`. */
  checkpoints(): CheckpointStore;
  /** The backend report; throws the device-loss error once the device is lost, or before `init`. */
  ready(): BackendReport;
  /**
   * Throws a ValidationError when `need` does not fit the backend's memory budget with what the
   * engine holds now; call it before allocating (memory-budget.ts).
   */
  checkMemory(what: string, need: MemoryEstimate, fix: string): void;
}
