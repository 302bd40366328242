/**
 * The lab's shared state and the client calls that change it: one `ServiceClient` (engine in a
 * Worker, or a remote Tinker-compatible service chosen in the advanced settings), the chosen base
 * model and its tokenizer, the current LoRA run (`TrainingClient`), the prepared data
 * (prepared-data.ts) and the loss history. Panels read it and listen for its events ('model', 'run',
 * 'data', 'history', 'checkpoints', 'busy'); they never talk to each other directly.
 * Everything goes through the public client (src/index.ts), as any embedding app would.
 */
import {
  ServiceClient,
  type BackendReport,
  type SamplingClient,
  type ServiceClientOptions,
  type Tokenizer,
  type TrainingClient,
} from '../index';
import { saveLastRun, type LossPoint, type RewardPoint } from './last-run';
import { prepareData, type DataSource, type PreparedData } from './prepared-data';

export type { DataSource, PreparedData } from './prepared-data';
import { FRESH, describeRun, type RunOrigin, type RunView } from './run-state';

export type LabEvent =
  'model' | 'run' | 'data' | 'history' | 'checkpoints' | 'busy' | 'service' | 'mode' | 'rl-history';

/** Supervised fine-tuning on examples, or reinforcement learning from a reward. */
export type TrainMode = 'sft' | 'rl';

export interface LoadProgressEvent {
  readonly phase: string;
  readonly loaded: number;
  readonly total: number | null;
  readonly file?: string;
}

const SEED = 0;

export class Lab extends EventTarget {
  /** Replaced by `useService` (a remote service, or back to this tab). */
  service: ServiceClient;
  modelId: string | null = null;
  tokenizer: Tokenizer | null = null;
  run: TrainingClient | null = null;
  /** Where the current run's adapter came from (run-state.ts words it). */
  origin: RunOrigin = FRESH;
  source: DataSource | null = null;
  data: PreparedData | null = null;
  history: LossPoint[] = [];
  mode: TrainMode = 'sft';
  /** The RL reward curve of the current run (RL mode). */
  rlHistory: RewardPoint[] = [];
  maxLength = 128;
  /** True while a training session or a model load holds the engine. */
  busy = false;
  private baseSampler: Promise<SamplingClient> | null = null;

  constructor(
    readonly hubUrl: string,
    readonly backend: 'auto' | 'webgpu' | 'wasm' | 'cpu',
  ) {
    super();
    this.service = new ServiceClient({ backend, hub_url: hubUrl });
  }

  /**
   * Trains through another ServiceClient from now on (for example `{ engine: 'remote', base_url,
   * api_key }`, or `{}` for this tab again). The new one must start before the current run is let
   * go; then the run and its model are closed and panels hear 'service'.
   */
  async useService(options: ServiceClientOptions): Promise<BackendReport> {
    const next = new ServiceClient({ backend: this.backend, ...options, hub_url: this.hubUrl });
    let report: BackendReport;
    try {
      report = await next.backend();
    } catch (error) {
      await next.close().catch(() => undefined);
      throw error;
    }
    await this.unload();
    const previous = this.service;
    this.service = next;
    await previous.close().catch(() => undefined);
    this.emit('service');
    return report;
  }

  on(event: LabEvent, listener: () => void): void {
    this.addEventListener(event, listener);
  }

  emit(event: LabEvent): void {
    this.dispatchEvent(new Event(event));
  }

  setBusy(busy: boolean): void {
    this.busy = busy;
    this.emit('busy');
  }

  /** Loads `modelId` with a fresh adapter of `rank` (the model's weights are reused if loaded). */
  async loadModel(
    modelId: string,
    rank: number,
    onProgress?: (p: LoadProgressEvent) => void,
  ): Promise<void> {
    if (this.modelId !== null && modelId !== this.modelId) await this.unload();
    const run = await this.service.create_lora_training_client({
      base_model: modelId,
      rank,
      seed: SEED,
      on_progress: onProgress,
    });
    await this.adopt(run, [], FRESH);
  }

  /** A fresh adapter on the current model (the chart starts over). */
  async newRun(rank: number): Promise<void> {
    if (!this.modelId) throw new Error('load a model first.');
    await this.loadModel(this.modelId, rank);
  }

  /**
   * Continues from a `save_state` checkpoint (or an imported adapter, `origin` says which),
   * optimizer state included when it has one.
   */
  async restore(
    path: string,
    history: readonly LossPoint[],
    origin: RunOrigin,
    onProgress?: (p: LoadProgressEvent) => void,
  ): Promise<void> {
    let run: TrainingClient;
    try {
      run = await this.service.create_training_client_from_state_with_optimizer({
        path,
        on_progress: onProgress,
      });
    } catch {
      run = await this.service.create_training_client_from_state({ path, on_progress: onProgress });
    }
    await this.adopt(
      run,
      history.filter((p) => p.step <= run.policy_version),
      origin,
    );
  }

  /** The current run in words (status, Start label, rank lock, headings). */
  view(): RunView {
    const run = this.run;
    const info = run?.get_info();
    return describeRun({
      run:
        run && info
          ? { step: run.policy_version, rank: info.lora_rank, model: info.base_model }
          : null,
      origin: this.origin,
      data:
        this.data && this.source
          ? { label: this.source.label, trainable: this.data.train.length }
          : null,
    });
  }

  /** The base model with no adapter, for "Try it" (made once per model). */
  baseSamplingClient(): Promise<SamplingClient> {
    if (!this.modelId) return Promise.reject(new Error('load a model first.'));
    this.baseSampler ??= this.service.create_sampling_client({ base_model: this.modelId });
    return this.baseSampler;
  }

  setSource(source: DataSource | null): void {
    this.source = source;
    this.prepare();
  }

  setMaxLength(maxLength: number): void {
    if (maxLength === this.maxLength) return;
    this.maxLength = maxLength;
    this.prepare();
  }

  /** Tokenizes the data source for the current model and max length. */
  prepare(): void {
    const source = this.source;
    if (!source || !this.tokenizer || !this.run) {
      this.data = null;
      this.emit('data');
      return;
    }
    const maxLength = Math.min(this.maxLength, this.run.get_info().max_seq_len);
    this.data = prepareData(source, this.tokenizer, maxLength);
    this.emit('data');
  }

  addPoint(point: LossPoint): void {
    const last = this.history[this.history.length - 1];
    if (last && last.step === point.step) {
      this.history[this.history.length - 1] = {
        step: point.step,
        train: point.train ?? last.train,
        heldout: point.heldout ?? last.heldout,
      };
    } else this.history.push(point);
    this.emit('history');
  }

  setMode(mode: TrainMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.emit('mode');
  }

  addRewardPoint(point: RewardPoint): void {
    this.rlHistory.push(point);
    this.emit('rl-history');
  }

  /** Puts back a resumed run's reward curve (after `restore`). */
  setRewardHistory(points: readonly RewardPoint[]): void {
    this.rlHistory = [...points];
    this.emit('rl-history');
  }

  /** `save_state(name)`; remembers it as the last run for the resume offer after a reload. */
  async saveCheckpoint(name: string): Promise<string> {
    const run = this.requireRun();
    const { path } = await run.save_state(name);
    saveLastRun(localStorage, {
      runId: run.run_id,
      baseModel: run.get_info().base_model,
      statePath: path,
      step: run.policy_version,
      savedAt: new Date().toISOString(),
      rank: run.get_info().lora_rank,
      dataset: this.source?.ref ?? null,
      history: this.history,
      rl: this.rlHistory.length > 0 ? { history: this.rlHistory } : undefined,
    });
    this.emit('checkpoints');
    return path;
  }

  requireRun(): TrainingClient {
    if (!this.run) throw new Error('load a model first.');
    return this.run;
  }

  /** Frees the current model (its run and base sampler) before another one loads. */
  private async unload(): Promise<void> {
    const [run, sampler] = [this.run, this.baseSampler];
    this.run = null;
    this.origin = FRESH;
    this.baseSampler = null;
    this.modelId = null;
    this.tokenizer = null;
    this.prepare();
    this.emit('run');
    await run?.close().catch(() => undefined);
    await sampler?.then((s) => s.close()).catch(() => undefined);
  }

  /** Makes `run` current; closes the previous run (after, so shared weights stay loaded). */
  private async adopt(run: TrainingClient, history: LossPoint[], origin: RunOrigin): Promise<void> {
    const previous = this.run;
    const model = run.get_info().base_model;
    const modelChanged = model !== this.modelId;
    this.run = run;
    this.origin = origin;
    this.history = [...history];
    this.rlHistory = [];
    if (modelChanged) {
      const oldSampler = this.baseSampler;
      this.baseSampler = null;
      this.modelId = model;
      this.tokenizer = await run.get_tokenizer();
      void oldSampler?.then((s) => s.close()).catch(() => undefined);
      this.emit('model');
    }
    await previous?.close().catch(() => undefined);
    this.prepare();
    this.emit('run');
    this.emit('history');
    this.emit('rl-history');
  }
}
