/**
 * `TrainingClient`: one LoRA run in the engine. Every op is validated here at call time, then
 * submitted at once (in order) and returned as a future. shared/LOOPS_API.md, "TrainingClient".
 */
import { ValidationError } from '../errors/loops-errors';
import { TextTokenizer } from '../core/tokenizer';
import type {
  Checkpoint,
  CheckpointFilesResponse,
  GetInfoResponse,
  InitTrainerServerResponse,
  OptimStepResponse,
  SaveWeightsResponse,
} from '../protocol/responses';
import type { RunInfo } from '../protocol/wire-types';
import { parseArgs } from './args';
import { checkpointFilesResponse } from './checkpoint-files';
import type { ObjectUrls } from './object-urls';
import type { EngineLink } from './engine-link';
import { submitCustom, submitForward, type RunHandle } from './forward-ops';
import { OperationFuture, submitted, type ForwardBackwardFuture } from './future';
import { MetricsLog, type MetricListener, type MetricRecord } from './metrics';
import { SamplingClient } from './sampling-client';
import { SubmitOrder } from './submit-order';
import {
  checkAdamParams,
  checkCheckpointId,
  checkCheckpointName,
  checkCheckpointPath,
} from './validate';
import type { WandbConfig } from './types/params';

export class TrainingClient {
  private version: number;
  private tokenizer: TextTokenizer | null = null;
  private closed = false;
  /** Call order of this client's run ops, kept across `forward_backward_custom`'s two halves. */
  private readonly order = new SubmitOrder();
  readonly metrics: MetricsLog;

  /** @internal Made by `ServiceClient`. */
  constructor(
    private readonly link: EngineLink,
    private info: RunInfo,
    private readonly hubUrl: string,
    wandb: WandbConfig | null,
    private readonly urls: ObjectUrls,
  ) {
    this.version = info.policyVersion;
    this.metrics = new MetricsLog(info.runId, wandb?.project ?? null, wandb?.name ?? null);
  }

  get run_id(): string {
    return this.info.runId;
  }

  /** Optimiser steps applied so far (as of the last finished `optim_step` or `load_state`). */
  get policy_version(): number {
    return this.version;
  }

  forward_backward(...args: unknown[]): ForwardBackwardFuture {
    return submitForward(this.handle(), 'forward_backward', args, true);
  }

  forward(...args: unknown[]): ForwardBackwardFuture {
    return submitForward(this.handle(), 'forward', args, false);
  }

  /**
   * A loss computed on the page with TF.js: forward for the log-probs, `loss_fn(data, logprobs)` →
   * `{ loss, metrics }`, then the engine backpropagates −Σ w·lp with w = −∂loss/∂lp (as Tinker does).
   * One op in the run's order: calls made before its backward is sent wait for it (submit-order.ts).
   */
  forward_backward_custom(...args: unknown[]): ForwardBackwardFuture {
    return submitCustom(this.handle(), args).future;
  }

  optim_step(...args: unknown[]): OperationFuture<OptimStepResponse> {
    const a = parseArgs('optim_step', ['adam_params'], args);
    const fields = checkAdamParams(a.adam_params);
    this.checkOpen();
    const sent = this.order.submit(() => this.link.engine.optimStep(this.run_id, fields));
    const done = sent.then((metrics) => {
      this.version = metrics.step ?? this.version + 1;
      this.metrics.step(this.version, metrics);
      return { metrics };
    });
    return new OperationFuture(done);
  }

  save_state(...args: unknown[]): OperationFuture<SaveWeightsResponse> {
    const name = this.nameArg('save_state', args);
    return new OperationFuture(
      this.order
        .submit(() => this.link.engine.saveState(this.run_id, name))
        .then((path) => ({ path })),
    );
  }

  /**
   * The checkpoint's weights (its rank and targets too) with a fresh optimizer: the run continues
   * as a new run from that checkpoint would (`policy_version` 0). The gradient not yet applied is
   * dropped.
   */
  load_state(...args: unknown[]): OperationFuture<SaveWeightsResponse> {
    return this.load('load_state', args, false);
  }

  /** The checkpoint's weights, Adam moments and step (`policy_version`): a bit-exact resume. */
  load_state_with_optimizer(...args: unknown[]): OperationFuture<SaveWeightsResponse> {
    return this.load('load_state_with_optimizer', args, true);
  }

  save_weights_for_sampler(...args: unknown[]): OperationFuture<SaveWeightsResponse> {
    const name = this.nameArg('save_weights_for_sampler', args);
    return new OperationFuture(
      this.order
        .submit(() => this.link.engine.saveWeightsForSampler(this.run_id, name))
        .then((path) => ({ path })),
    );
  }

  /** A snapshot of the current adapter (after every op submitted so far), pinned to this version. */
  save_weights_and_get_sampling_client(...args: unknown[]): OperationFuture<SamplingClient> {
    const a = parseArgs('save_weights_and_get_sampling_client', ['name'], args, ['retry_config']);
    if (a.name !== undefined) checkCheckpointName('save_weights_and_get_sampling_client', a.name);
    this.checkOpen();
    const request = {
      kind: 'run' as const,
      runId: this.run_id,
      name: (a.name as string | undefined) ?? null,
    };
    return new OperationFuture(this.order.submit(() => SamplingClient.create(this.link, request)));
  }

  async create_sampling_client(...args: unknown[]): Promise<SamplingClient> {
    const a = parseArgs('create_sampling_client', ['model_path'], args);
    const path = checkCheckpointPath('create_sampling_client', a.model_path, 'model_path');
    this.checkOpen();
    return SamplingClient.create(this.link, {
      kind: 'checkpoint',
      path,
      hubUrl: this.hubUrl,
    });
  }

  init_trainer_server(...args: unknown[]): OperationFuture<InitTrainerServerResponse> {
    const a = parseArgs('init_trainer_server', ['lora_rank'], args);
    if (typeof a.lora_rank !== 'number' || !Number.isInteger(a.lora_rank) || a.lora_rank < 1) {
      throw new ValidationError(
        `lora_rank must be a positive integer, got ${String(a.lora_rank)}.`,
      );
    }
    const rank = a.lora_rank;
    this.checkOpen();
    return new OperationFuture(
      this.order
        .submit(() => this.link.engine.initTrainerServer(this.run_id, rank))
        .then((r) => {
          this.version = r.policy_version;
          this.info = { ...this.info, loraRank: r.lora_rank };
          return r;
        }),
    );
  }

  async get_tokenizer(...args: unknown[]): Promise<TextTokenizer> {
    parseArgs('get_tokenizer', [], args); // no parameters: an argument is a mistake
    this.tokenizer ??= TextTokenizer.fromJson(
      this.info.tokenizer.tokenizerJson,
      this.info.tokenizer.tokenizerConfig,
    );
    return this.tokenizer;
  }

  get_info(...args: unknown[]): GetInfoResponse {
    parseArgs('get_info', [], args); // no parameters: an argument is a mistake
    return {
      base_model: this.info.baseModel,
      lora_rank: this.info.loraRank,
      max_seq_len: this.info.maxSeqLen,
      run_id: this.run_id,
    };
  }

  list_checkpoints(...args: unknown[]): Promise<Checkpoint[]> {
    parseArgs('list_checkpoints', [], args); // no parameters: an argument is a mistake
    return this.link.engine.listCheckpoints(this.run_id);
  }

  /** The checkpoint's files as object URLs (revoked by the ServiceClient's delete or close). */
  async get_checkpoint_archive_url(...args: unknown[]): Promise<CheckpointFilesResponse> {
    const a = parseArgs('get_checkpoint_archive_url', ['checkpoint_id'], args);
    const files = await this.link.engine.checkpointFiles(checkCheckpointId(a.checkpoint_id));
    return checkpointFilesResponse(files, this.urls);
  }

  /** Calls `listener` with each step's metrics; returns an unsubscribe function. */
  on_metrics(listener: MetricListener): () => void {
    return this.metrics.subscribe(listener);
  }

  get metrics_history(): readonly MetricRecord[] {
    return this.metrics.history;
  }

  /**
   * `{ ok: true, policy_version }` while the trainer can run ops; raises when it cannot (as Loops
   * does): `RemoteOpError` with `cause_class` `DeviceLostError` once the GPU device is lost, or
   * when the engine has ended.
   */
  async health(...args: unknown[]): Promise<{ ok: true; policy_version: number }> {
    parseArgs('health', [], args); // no parameters: an argument is a mistake
    this.checkOpen();
    await this.link.engine.health();
    return { ok: true, policy_version: this.version };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.order.submit(() => this.link.engine.closeRun(this.run_id));
  }

  // Python's `_async` twins: resolve (once submitted) with a handle on the future (see future.ts).
  forward_backward_async(...args: unknown[]) {
    return submitted(this.forward_backward(...args), this.order.whenSent());
  }
  forward_async(...args: unknown[]) {
    return submitted(this.forward(...args), this.order.whenSent());
  }
  forward_backward_custom_async(...args: unknown[]) {
    const { future, sent } = submitCustom(this.handle(), args);
    return submitted(future, sent);
  }
  optim_step_async(...args: unknown[]) {
    return submitted(this.optim_step(...args), this.order.whenSent());
  }
  save_state_async(...args: unknown[]) {
    return submitted(this.save_state(...args), this.order.whenSent());
  }
  load_state_async(...args: unknown[]) {
    return submitted(this.load_state(...args), this.order.whenSent());
  }
  load_state_with_optimizer_async(...args: unknown[]) {
    return submitted(this.load_state_with_optimizer(...args), this.order.whenSent());
  }
  save_weights_for_sampler_async(...args: unknown[]) {
    return submitted(this.save_weights_for_sampler(...args), this.order.whenSent());
  }
  save_weights_and_get_sampling_client_async(...args: unknown[]) {
    return submitted(this.save_weights_and_get_sampling_client(...args), this.order.whenSent());
  }

  private load(
    method: string,
    args: unknown[],
    withOptimizer: boolean,
  ): OperationFuture<SaveWeightsResponse> {
    const a = parseArgs(method, ['path'], args);
    const path = checkCheckpointPath(method, a.path);
    this.checkOpen();
    return new OperationFuture(
      this.order
        .submit(() => this.link.engine.loadState(this.run_id, path, withOptimizer))
        .then((r) => {
          this.version = r.policy_version;
          this.info = { ...this.info, loraRank: r.lora_rank };
          return { path: r.path };
        }),
    );
  }

  private nameArg(method: string, args: unknown[]): string {
    const a = parseArgs(method, ['name'], args, ['ttl_seconds']);
    const name = checkCheckpointName(method, a.name);
    this.checkOpen();
    return name;
  }

  /** What the forward ops (forward-ops.ts) need of this client. */
  private handle(): RunHandle {
    return {
      link: this.link,
      order: this.order,
      runId: this.run_id,
      metrics: this.metrics,
      limits: { vocabSize: this.info.vocabSize, maxSeqLen: this.info.maxSeqLen },
      checkOpen: () => this.checkOpen(),
    };
  }

  private checkOpen(): void {
    if (this.closed) throw new ValidationError('this TrainingClient is closed; create a new one.');
  }
}
