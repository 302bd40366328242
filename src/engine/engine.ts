/**
 * The engine: the object the worker exposes (or the page holds in-process in Node). It owns the
 * backend, the base models, every run and sampler, the ordered op queue and the checkpoint store
 * (shared/DESIGN.md). Ops of one run execute strictly in submission order; a failed op rejects
 * only its own promise.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../errors/loops-errors';
import { TextTokenizer } from '../core/tokenizer';
import { readPeftAdapter } from '../io/peft';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../lora/adapter';
import { KNOWN_CONFIGS } from '../model/known-configs';
import type { EngineApi, EngineMemory } from '../protocol/engine-api';
import type {
  AdamWire,
  Checkpoint,
  CreateRunRequest,
  CreateSamplerRequest,
  ImportAdapterRequest,
  LoadProgress,
  ModelFacts,
  RunInfo,
  SampleRequest,
  SamplerInfo,
  ServerCapabilitiesWire,
  WireCheckpointFile,
  WireDatum,
  WireForwardResult,
  WireSampleResult,
} from '../protocol/wire-types';
import {
  selectBackend,
  type BackendOptions,
  type BackendReport,
  type BackendRequest,
} from '../runtime/backend';
import { deviceLostError, guardDevice } from '../runtime/device-lost';
import { runSelfCheck, type SelfCheckInput, type SelfCheckResult } from '../runtime/self-check';
import { defaultCheckpointStore, type CheckpointStore } from '../storage/checkpoint-store';
import { buildCheckpoint, randomId, restoreAdapter } from './checkpoints';
import { ModelRegistry, type LoadedModel, type ModelRegistryOptions } from './model-registry';
import { OpQueue } from './op-queue';
import { Run } from './run';
import { Sampler } from './sampler';

export interface EngineOptions extends ModelRegistryOptions {
  /** Where checkpoints go; default IndexedDB (namespace from `init`), or memory without it. */
  readonly store?: CheckpointStore;
}

export interface EngineInitOptions extends BackendOptions {
  /** IndexedDB database name for checkpoints; default 'loops-web'. */
  readonly storageNamespace?: string;
}

export class Engine implements EngineApi {
  private report: BackendReport | null = null;
  private readonly registry: ModelRegistry;
  private store: CheckpointStore | null;
  private readonly queue = new OpQueue();
  private readonly runs = new Map<string, Run>();
  private readonly samplers = new Map<string, Sampler>();
  private readonly tokenizers = new Map<string, TextTokenizer>();

  constructor(options: EngineOptions) {
    this.registry = new ModelRegistry(options);
    this.store = options.store ?? null;
  }

  async init(backend: BackendRequest, options: EngineInitOptions = {}): Promise<BackendReport> {
    this.report = await selectBackend(backend, options);
    this.store ??= defaultCheckpointStore(options.storageNamespace ?? 'loops-web');
    return this.report;
  }

  async backendReport(): Promise<BackendReport | null> {
    return this.report;
  }

  async selfCheck(input: SelfCheckInput): Promise<SelfCheckResult> {
    this.ready();
    return runSelfCheck(input);
  }

  async capabilities(): Promise<ServerCapabilitiesWire> {
    const report = this.ready();
    const shipped = await this.registry.shippedModels();
    const hub = Object.entries(KNOWN_CONFIGS).map(([name, cfg]) => ({
      model_name: name,
      max_context_length:
        (cfg as { max_position_embeddings?: number; n_positions?: number })
          .max_position_embeddings ??
        (cfg as { n_positions?: number }).n_positions ??
        1024,
      shipped: false,
    }));
    return {
      supported_models: [
        ...shipped.map((m) => ({
          model_name: m.name,
          max_context_length: m.max_context_length,
          shipped: true,
        })),
        ...hub,
      ],
      backend: report.backend,
      adapter: report.adapter
        ? {
            vendor: report.adapter.vendor,
            architecture: report.adapter.architecture,
            description: report.adapter.description,
            limits: report.adapter.limits,
          }
        : null,
    };
  }

  async createRun(
    request: CreateRunRequest,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<RunInfo> {
    this.ready();
    const stored = request.fromState ? await this.checkpoints().get(request.fromState.path) : null;
    const baseName = stored ? stored.meta.base_model : request.baseModel;
    const base = await this.registry.acquire(baseName, request.hubUrl, onProgress);
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
        const targets = targetsFor(base.config, request);
        adapter = LoraAdapter.create(base.config, {
          rank: request.rank,
          alpha: request.loraAlpha ?? DEFAULT_LORA_ALPHA,
          targets,
          seed,
        });
      }
      const run = new Run(randomId(), base, adapter, maxSeqLen, seed);
      if (optimizer) run.importOptimizer(optimizer);
      this.runs.set(run.id, run);
      return {
        ...this.facts(base),
        runId: run.id,
        loraRank: adapter.config.rank,
        maxSeqLen,
        policyVersion: run.policyVersion,
      };
    } catch (error) {
      await this.registry.release(baseName);
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
    return this.onRun(runId, (run) => run.forwardBackward(data, lossFn, config, backward));
  }

  backwardWeighted(runId: string, data: WireDatum[], weights: Float32Array[]): Promise<void> {
    return this.onRun(runId, (run) => run.backwardWeighted(data, weights));
  }

  optimStep(runId: string, adam: AdamWire): Promise<Record<string, number>> {
    return this.onRun(runId, (run) => run.optimStep(adam));
  }

  initTrainerServer(
    runId: string,
    rank: number,
  ): Promise<{ lora_rank: number; policy_version: number }> {
    return this.onRun(runId, (run) => {
      const cfg = run.adapter.config;
      run.replaceAdapter(LoraAdapter.create(run.base.config, { ...cfg, rank }), null, true);
      return { lora_rank: rank, policy_version: run.policyVersion };
    });
  }

  saveState(runId: string, name: string): Promise<string> {
    return this.onRun(runId, async (run) => {
      const stored = await buildCheckpoint(
        this.source(run),
        'trainer',
        name,
        await run.exportOptimizer(),
      );
      await this.checkpoints().put(stored);
      return stored.meta.path;
    });
  }

  loadState(
    runId: string,
    path: string,
    withOptimizer: boolean,
  ): Promise<{ path: string; policy_version: number }> {
    return this.onRun(runId, async (run) => {
      const stored = await this.checkpoints().get(path);
      if (stored.meta.base_model !== run.base.name) {
        throw new ValidationError(
          `checkpoint ${path} was trained on ${stored.meta.base_model}, but this run uses ${run.base.name}.`,
        );
      }
      const restored = restoreAdapter(stored, run.base.config);
      const adapter = LoraAdapter.fromArrays(run.base.config, restored.config, restored.factors);
      run.replaceAdapter(adapter, withOptimizer ? restored.optimizer : null, withOptimizer);
      return { path: stored.meta.path, policy_version: run.policyVersion };
    });
  }

  saveWeightsForSampler(runId: string, name: string): Promise<string> {
    return this.onRun(runId, async (run) => {
      const stored = await buildCheckpoint(this.source(run), 'sampler', name, null);
      await this.checkpoints().put(stored);
      return stored.meta.path;
    });
  }

  async closeRun(runId: string): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) return;
    await this.queue.drain(runId);
    this.runs.delete(runId);
    run.dispose();
    await this.registry.release(run.base.name);
  }

  async createSampler(request: CreateSamplerRequest): Promise<SamplerInfo> {
    this.ready();
    if (request.kind === 'run') {
      // Ordered after every op already submitted to the run: the snapshot sees their effect.
      return this.onRun(request.runId, async (run) => {
        let path: string | null = null;
        if (request.name) {
          const stored = await buildCheckpoint(this.source(run), 'sampler', request.name, null);
          await this.checkpoints().put(stored);
          path = stored.meta.path;
        }
        await this.registry.acquire(run.base.name, '');
        return this.addSampler(run.base, run.adapter.snapshot(), run.policyVersion, path);
      });
    }
    if (request.kind === 'base') {
      const base = await this.registry.acquire(request.baseModel, request.hubUrl);
      return this.addSampler(base, null, 0, null);
    }
    const stored = await this.checkpoints().get(request.path);
    const base = await this.registry.acquire(stored.meta.base_model, request.hubUrl);
    try {
      const restored = restoreAdapter(stored, base.config);
      const adapter = LoraAdapter.fromArrays(base.config, restored.config, restored.factors);
      return this.addSampler(base, adapter, stored.meta.step, stored.meta.path);
    } catch (error) {
      await this.registry.release(base.name);
      throw error;
    }
  }

  sample(request: SampleRequest): Promise<WireSampleResult> {
    const sampler = this.samplers.get(request.samplerId);
    if (!sampler)
      return Promise.reject(
        new ValidationError(
          `sampler ${request.samplerId} is closed or unknown; create a new SamplingClient.`,
        ),
      );
    return this.queue.submit(`sampler:${sampler.id}`, () =>
      guardDevice(() => sampler.sample(request)),
    );
  }

  async closeSampler(samplerId: string): Promise<void> {
    const sampler = this.samplers.get(samplerId);
    if (!sampler) return;
    await this.queue.drain(`sampler:${samplerId}`);
    this.samplers.delete(samplerId);
    sampler.dispose();
    await this.registry.release(sampler.base.name);
  }

  async importAdapter(request: ImportAdapterRequest): Promise<Checkpoint> {
    this.ready();
    const base = await this.registry.acquire(request.baseModel, request.hubUrl);
    try {
      const peft = readPeftAdapter(base.config, request.weights, request.config);
      const adapter = LoraAdapter.fromArrays(
        base.config,
        { rank: peft.rank, alpha: peft.alpha, targets: peft.targets, seed: 0 },
        peft.factors,
      );
      try {
        const source = {
          runId: `imported-${randomId()}`,
          baseModel: base.name,
          modelConfig: base.config,
          adapter,
          seed: 0,
          policyVersion: 0,
        };
        const built = await buildCheckpoint(source, 'trainer', request.name, null);
        // The checkpoint's step is the one the adapter's file records (ours write it; 0 when
        // absent). It brings no optimizer state, so a run restored from it starts at policy
        // version 0 either way.
        const stored = { ...built, meta: { ...built.meta, step: peft.step ?? 0 } };
        await this.checkpoints().put(stored);
        return stored.meta;
      } finally {
        adapter.dispose();
      }
    } finally {
      await this.registry.release(base.name);
    }
  }

  listCheckpoints(runId: string | null): Promise<Checkpoint[]> {
    return this.checkpoints().list(runId);
  }

  async checkpointFiles(idOrPath: string): Promise<WireCheckpointFile[]> {
    const stored = await this.checkpoints().get(idOrPath);
    return Object.entries(stored.files).map(([name, bytes]) => ({
      name,
      bytes: bytes.slice(),
      lastModified: stored.meta.created_at,
    }));
  }

  deleteCheckpoint(idOrPath: string): Promise<void> {
    return this.checkpoints().delete(idOrPath);
  }

  async memory(): Promise<EngineMemory> {
    const m = tf.memory();
    return {
      backend: this.report ? tf.getBackend() : null,
      numTensors: m.numTensors,
      numDataBuffers: m.numDataBuffers,
      numBytes: m.numBytes,
    };
  }

  async shutdown(): Promise<void> {
    for (const id of [...this.runs.keys()]) await this.closeRun(id);
    for (const id of [...this.samplers.keys()]) await this.closeSampler(id);
    await this.registry.disposeAll();
  }

  private addSampler(
    base: LoadedModel,
    adapter: LoraAdapter | null,
    version: number,
    path: string | null,
  ): SamplerInfo {
    const sampler = new Sampler(randomId(), base, adapter, version, this.tokenizer(base));
    this.samplers.set(sampler.id, sampler);
    return { ...this.facts(base), samplerId: sampler.id, policyVersion: version, path };
  }

  private onRun<T>(runId: string, op: (run: Run) => Promise<T> | T): Promise<T> {
    return this.queue.submit(runId, () =>
      guardDevice(() => {
        const run = this.runs.get(runId);
        if (!run)
          throw new ValidationError(
            `run ${runId} is closed or unknown; create a new TrainingClient.`,
          );
        return op(run);
      }),
    );
  }

  private source(run: Run) {
    return {
      runId: run.id,
      baseModel: run.base.name,
      modelConfig: run.base.config,
      adapter: run.adapter,
      seed: run.seed,
      policyVersion: run.policyVersion,
    };
  }

  private facts(base: LoadedModel): ModelFacts {
    return {
      baseModel: base.name,
      vocabSize: base.config.vocabSize,
      maxPositions: base.config.maxPositions,
      eosTokenIds: base.config.eosTokenIds,
      tokenizer: base.tokenizer,
    };
  }

  private tokenizer(base: LoadedModel): TextTokenizer {
    let tok = this.tokenizers.get(base.name) ?? base.textTokenizer;
    if (!tok) {
      tok = TextTokenizer.fromJson(base.tokenizer.tokenizerJson, base.tokenizer.tokenizerConfig);
      this.tokenizers.set(base.name, tok);
    }
    return tok;
  }

  private checkpoints(): CheckpointStore {
    if (!this.store)
      throw new ValidationError('the engine is not initialised; call init(backend) first.');
    return this.store;
  }

  private ready(): BackendReport {
    const lost = deviceLostError();
    if (lost) throw lost;
    if (!this.report)
      throw new ValidationError('the engine is not initialised; call init(backend) first.');
    return this.report;
  }
}
