/**
 * The engine's training runs: creating them (fresh, or from a `save_state` checkpoint), and every
 * op on one, each submitted to the run's slot of the ordered queue (op-queue.ts) and guarded
 * against device loss. What a run computes is run.ts; how checkpoints are built and read back is
 * checkpoints.ts.
 *
 * Reads: forward_backward and optim_step leave what they report on the device in the run's read
 * batch (run.ts); the batch is read in one transfer when the run's queue has gone idle for a task
 * (so an optim_step submitted behind a forward_backward joins it), or before any other op runs.
 */
import { ValidationError } from '../errors/loops-errors';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../lora/adapter';
import type {
  AdamWire,
  CreateRunRequest,
  LoadProgress,
  LoadStateResult,
  RunInfo,
  WireDatum,
  WireForwardResult,
} from '../protocol/wire-types';
import { guardDevice } from '../runtime/device-lost';
import { buildCheckpoint, randomId, restoreAdapter, type CheckpointSource } from './checkpoints';
import type { EngineContext } from './engine-context';
import { trainingStepBytes } from './memory-budget';
import type { LoadedModel } from './model-registry';
import { modelFacts } from './model-facts';
import { Later } from './op-queue';
import { Run } from './run';

export class Runs {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly ctx: EngineContext) {}

  async create(
    request: CreateRunRequest,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<RunInfo> {
    this.ctx.ready();
    const stored = request.fromState
      ? await this.ctx.checkpoints().get(request.fromState.path)
      : null;
    const baseName = stored ? stored.meta.base_model : request.baseModel;
    const base = await this.ctx.registry.acquire(baseName, request.hubUrl, onProgress);
    try {
      const maxSeqLen = Math.min(
        request.maxSeqLen ?? base.config.maxPositions,
        base.config.maxPositions,
      );
      let adapter: LoraAdapter;
      let seed = request.seed ?? Math.floor(Math.random() * 2 ** 31);
      let optimizer = null;
      if (stored) {
        const restored = restoreAdapter(stored, base.config);
        adapter = LoraAdapter.fromArrays(base.config, restored.config, restored.factors);
        seed = restored.seed;
        if (request.fromState?.withOptimizer) optimizer = restored.optimizer;
      } else {
        adapter = LoraAdapter.create(base.config, {
          rank: request.rank,
          alpha: request.loraAlpha ?? DEFAULT_LORA_ALPHA,
          targets: targetsFor(base.config, request),
          seed,
        });
      }
      const run = new Run(randomId(), base, adapter, maxSeqLen, seed);
      if (optimizer) run.importOptimizer(optimizer);
      this.runs.set(run.id, run);
      return {
        ...modelFacts(base),
        runId: run.id,
        loraRank: adapter.config.rank,
        maxSeqLen,
        policyVersion: run.policyVersion,
      };
    } catch (error) {
      await this.ctx.registry.release(baseName);
      throw error;
    }
  }

  forwardBackward(
    runId: string,
    data: WireDatum[],
    lossFn: string,
    config: Record<string, number>,
    backward: boolean,
  ): Promise<WireForwardResult> {
    return this.onLater(runId, (run) => {
      this.checkStepMemory(run, data);
      return run.forwardBackwardLater(data, lossFn, config, backward);
    });
  }

  backwardWeighted(runId: string, data: WireDatum[], weights: Float32Array[]): Promise<void> {
    return this.on(runId, (run) => {
      this.checkStepMemory(run, data);
      return run.backwardWeighted(data, weights);
    });
  }

  optimStep(runId: string, adam: AdamWire): Promise<Record<string, number>> {
    return this.onLater(runId, (run) => run.optimStepLater(adam));
  }

  initTrainerServer(
    runId: string,
    rank: number,
  ): Promise<{ lora_rank: number; policy_version: number }> {
    return this.on(runId, (run) => {
      const cfg = run.adapter.config;
      run.replaceAdapter(LoraAdapter.create(run.base.config, { ...cfg, rank }), null);
      return { lora_rank: rank, policy_version: run.policyVersion };
    });
  }

  saveState(runId: string, name: string): Promise<string> {
    return this.on(runId, async (run) => {
      const stored = await buildCheckpoint(
        checkpointSource(run),
        'trainer',
        name,
        await run.exportOptimizer(),
      );
      await this.ctx.checkpoints().put(stored);
      return stored.meta.path;
    });
  }

  /**
   * The checkpoint's adapter replaces the run's (its rank and targets included), with a fresh
   * optimizer, or with the checkpoint's moments and step when `withOptimizer`.
   */
  loadState(runId: string, path: string, withOptimizer: boolean): Promise<LoadStateResult> {
    return this.on(runId, async (run) => {
      const stored = await this.ctx.checkpoints().get(path);
      if (stored.meta.base_model !== run.base.name) {
        throw new ValidationError(
          `checkpoint ${path} was trained on ${stored.meta.base_model}, but this run uses ${run.base.name}; load it into a run of that model (create_training_client_from_state).`,
        );
      }
      const restored = restoreAdapter(stored, run.base.config);
      const adapter = LoraAdapter.fromArrays(run.base.config, restored.config, restored.factors);
      try {
        run.replaceAdapter(adapter, withOptimizer ? restored.optimizer : null);
      } catch (error) {
        adapter.dispose();
        throw error;
      }
      return {
        path: stored.meta.path,
        policy_version: run.policyVersion,
        lora_rank: adapter.config.rank,
      };
    });
  }

  saveWeightsForSampler(runId: string, name: string): Promise<string> {
    return this.on(runId, async (run) => {
      const stored = await buildCheckpoint(checkpointSource(run), 'sampler', name, null);
      await this.ctx.checkpoints().put(stored);
      return stored.meta.path;
    });
  }

  /**
   * A frozen copy of the run's adapter, ordered after every op already submitted to the run (so
   * the snapshot sees their effect), optionally saved as a sampler checkpoint `name`. The caller
   * owns the adapter copy and one more registry use of the base model.
   */
  snapshot(
    runId: string,
    name: string | null,
  ): Promise<{ base: LoadedModel; adapter: LoraAdapter; version: number; path: string | null }> {
    return this.on(runId, async (run) => {
      let path: string | null = null;
      if (name) {
        const stored = await buildCheckpoint(checkpointSource(run), 'sampler', name, null);
        await this.ctx.checkpoints().put(stored);
        path = stored.meta.path;
      }
      await this.ctx.registry.acquire(run.base.name, '');
      return { base: run.base, adapter: run.adapter.snapshot(), version: run.policyVersion, path };
    });
  }

  async close(runId: string): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) return;
    await this.ctx.queue.drain(runId);
    this.runs.delete(runId);
    await run.flushReads().catch(() => undefined);
    run.dispose();
    await this.ctx.registry.release(run.base.name);
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.runs.keys()]) await this.close(id);
  }

  /** A batch of B sequences of up to T tokens must fit the memory budget (memory-budget.ts). */
  private checkStepMemory(run: Run, data: readonly WireDatum[]): void {
    const T = Math.max(0, ...data.map((d) => d.tokens.length));
    this.ctx.checkMemory(
      'forward_backward',
      trainingStepBytes(run.base.config, data.length, T),
      'send fewer or shorter Datums per call (gradients accumulate across calls until optim_step).',
    );
  }

  /**
   * Runs `op` on the run in its queue slot, after every op submitted to it before; reads queued
   * by earlier ops are started first.
   */
  private on<T>(runId: string, op: (run: Run) => Promise<T> | T): Promise<T> {
    return this.ctx.queue.submit(runId, () =>
      guardDevice(() => {
        const run = this.get(runId);
        void run.flushReads().catch(() => undefined);
        return op(run);
      }),
    );
  }

  /**
   * `on` for an op whose result waits in the run's read batch: the queue moves on when the op
   * has recorded its work, and the batch is read once the queue stays idle for a task.
   */
  private onLater<T>(runId: string, op: (run: Run) => Later<T>): Promise<T> {
    return this.ctx.queue.submit(runId, () =>
      guardDevice(() => {
        const run = this.get(runId);
        try {
          const later = op(run);
          return new Later(guardDevice(() => later.result));
        } finally {
          this.flushWhenIdle(runId, run);
        }
      }),
    );
  }

  private flushWhenIdle(runId: string, run: Run): void {
    setTimeout(() => {
      if (this.ctx.queue.isIdle(runId)) void run.flushReads().catch(() => undefined);
    }, 0);
  }

  private get(runId: string): Run {
    const run = this.runs.get(runId);
    if (!run)
      throw new ValidationError(`run ${runId} is closed or unknown; create a new TrainingClient.`);
    return run;
  }
}

function checkpointSource(run: Run): CheckpointSource {
  return {
    runId: run.id,
    baseModel: run.base.name,
    modelConfig: run.base.config,
    adapter: run.adapter,
    seed: run.seed,
    policyVersion: run.policyVersion,
  };
}
