/**
 * A remote engine's runs: each `TrainingClient` is a Tinker model (run id = model id), created in
 * the session (remote-session.ts) and driven through its `RemoteRun` (remote-run.ts). Starting
 * from a checkpoint reads its LoRA config first, as the SDK does.
 */
import { ValidationError } from '../../errors/loops-errors';
import type { WeightsInfoResponse } from '../../protocol/tinker-wire';
import type { CreateRunRequest, LoadProgress, RunInfo } from '../../protocol/wire-types';
import type { TinkerHttp } from './http';
import { RemoteRun } from './remote-run';
import type { LoraFlags, RemoteSession } from './remote-session';

export class RemoteRuns {
  private readonly runs = new Map<string, RemoteRun>();

  constructor(
    private readonly http: TinkerHttp,
    private readonly session: RemoteSession,
  ) {}

  /**
   * A Tinker model for `request` (of a checkpoint's LoRA shape, loaded with its weights, when the
   * request starts from one); on failure it is closed again.
   */
  async create(
    request: CreateRunRequest,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<RunInfo> {
    if (request.loraAlpha !== null)
      throw new ValidationError(
        'lora_alpha is not part of the Tinker protocol; a remote service uses its own (32 on loops-web serve). Leave it out.',
      );
    let rank = request.rank;
    let baseModel = request.baseModel;
    let flags: LoraFlags = {
      train_mlp: request.trainMlp,
      train_attn: request.trainAttn,
      train_unembed: request.trainUnembed,
    };
    if (request.fromState) {
      // As the SDK does (service_client.py create_training_client_from_state): read the
      // checkpoint's LoRA config, make a model of that shape, then load the weights into it.
      const info = await this.http.call<WeightsInfoResponse>('POST', 'weights_info', {
        tinker_path: request.fromState.path,
      });
      baseModel = info.base_model;
      rank = info.lora_rank ?? rank;
      flags = {
        train_mlp: info.train_mlp ?? true,
        train_attn: info.train_attn ?? true,
        train_unembed: info.train_unembed ?? true,
      };
    }
    const modelId = await this.session.createModel(baseModel, rank, request.seed, flags);
    const run = new RemoteRun(this.http, modelId, baseModel, 1, 0, this.session.loops !== null);
    run.loraRank = rank;
    this.runs.set(modelId, run);
    try {
      if (request.fromState)
        await run.loadState(request.fromState.path, request.fromState.withOptimizer);
      const facts = await this.session.modelFacts(baseModel, modelId);
      onProgress?.({ phase: 'ready', loaded: 1, total: 1 });
      return {
        ...facts,
        runId: modelId,
        loraRank: rank,
        maxSeqLen: Math.min(request.maxSeqLen ?? facts.maxPositions, facts.maxPositions),
        policyVersion: run.policyVersion,
      };
    } catch (error) {
      await this.close(modelId).catch(() => undefined);
      throw error;
    }
  }

  /** The open run `runId`; throws when it is closed or unknown. */
  get(runId: string): RemoteRun {
    const run = this.runs.get(runId);
    if (!run)
      throw new ValidationError(`run ${runId} is closed or unknown; create a new TrainingClient.`);
    return run;
  }

  /** `op` on run `runId`; an unknown run rejects (it does not throw). */
  with<T>(runId: string, op: (run: RemoteRun) => Promise<T>): Promise<T> {
    try {
      return op(this.get(runId));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async close(runId: string): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) return;
    this.runs.delete(runId);
    await run.close();
  }

  /** Forgets every run at once and asks the service to free them, without waiting on each op. */
  closeAll(): Promise<unknown> {
    const runs = [...this.runs.values()];
    this.runs.clear();
    return Promise.all(runs.map((run) => run.close(false).catch(() => undefined)));
  }
}
