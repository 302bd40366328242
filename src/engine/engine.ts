/**
 * The engine: the object the worker exposes (or the page holds in-process in Node), the one
 * implementation of `EngineApi`. It owns the backend choice, the base models, the ordered op
 * queue and the checkpoint store (shared/DESIGN.md), and hands each call to the part that does
 * it: runs.ts (training runs), samplers.ts (sampling), checkpoint-library.ts (listing, files,
 * import), capabilities.ts. Ops of one run execute strictly in submission order; a failed op
 * rejects only its own promise.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../errors/loops-errors';
import type { EngineApi, EngineMemory } from '../protocol/engine-api';
import type {
  AdamWire,
  Checkpoint,
  CreateRunRequest,
  CreateSamplerRequest,
  ImportAdapterRequest,
  LoadProgress,
  LoadStateResult,
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
import { deviceLostError } from '../runtime/device-lost';
import { setGpuKernelsEnabled } from '../runtime/webgpu-kernels';
import { runSelfCheck, type SelfCheckInput, type SelfCheckResult } from '../runtime/self-check';
import { defaultCheckpointStore, type CheckpointStore } from '../storage/checkpoint-store';
import { serverCapabilities } from './capabilities';
import { CheckpointLibrary } from './checkpoint-library';
import type { EngineContext } from './engine-context';
import {
  backendBudget,
  checkMemory,
  type MemoryBudget,
  type MemoryEstimate,
} from './memory-budget';
import { ModelRegistry, type ModelRegistryOptions } from './model-registry';
import { OpQueue } from './op-queue';
import { Runs } from './runs';
import { Samplers } from './samplers';

export interface EngineOptions extends ModelRegistryOptions {
  /** Where checkpoints go; default IndexedDB (namespace from `init`), or memory without it. */
  readonly store?: CheckpointStore;
  /** The host's memory in bytes, where the platform knows it (Node: `os.totalmem()`). */
  readonly hostMemoryBytes?: number;
  /** The memory budget in bytes, replacing the backend's (memory-budget.ts); for embedders and tests. */
  readonly memoryBudgetBytes?: number;
}

export interface EngineInitOptions extends BackendOptions {
  /** IndexedDB database name for checkpoints; default 'loops-web'. */
  readonly storageNamespace?: string;
  /** On webgpu: our own kernels (true, the default) or TF.js's stock ops (false); unset: unchanged. */
  readonly gpuKernels?: boolean;
  /** On webgpu: compile a model's pipelines at load (warm-up.ts); default true. For benchmarks. */
  readonly warmUp?: boolean;
}

export class Engine implements EngineApi {
  private report: BackendReport | null = null;
  private budget: MemoryBudget | null = null;
  private store: CheckpointStore | null;
  private readonly registry: ModelRegistry;
  private readonly runs: Runs;
  private readonly samplers: Samplers;
  private readonly library: CheckpointLibrary;

  constructor(private readonly options: EngineOptions) {
    this.registry = new ModelRegistry(options);
    this.store = options.store ?? null;
    const ctx: EngineContext = {
      registry: this.registry,
      queue: new OpQueue(),
      checkpoints: () => this.checkpoints(),
      ready: () => this.ready(),
      checkMemory: (what, need, fix) => this.checkMemory(what, need, fix),
    };
    this.runs = new Runs(ctx);
    this.samplers = new Samplers(ctx, this.runs);
    this.library = new CheckpointLibrary(ctx);
  }

  async init(backend: BackendRequest, options: EngineInitOptions = {}): Promise<BackendReport> {
    this.report = await selectBackend(backend, options);
    if (options.gpuKernels !== undefined) setGpuKernelsEnabled(options.gpuKernels);
    this.registry.warmUpOnLoad = options.warmUp ?? true;
    const budget = backendBudget(this.report, this.options.hostMemoryBytes);
    const bytes = this.options.memoryBudgetBytes;
    this.budget = bytes ? { ...budget, bytes, source: 'set for this engine' } : budget;
    this.store ??= defaultCheckpointStore(options.storageNamespace ?? 'loops-web');
    return this.report;
  }

  async backendReport(): Promise<BackendReport | null> {
    return this.report;
  }

  async health(): Promise<void> {
    this.ready();
  }

  async selfCheck(input: SelfCheckInput): Promise<SelfCheckResult> {
    this.ready();
    return runSelfCheck(input);
  }

  async capabilities(): Promise<ServerCapabilitiesWire> {
    return serverCapabilities(this.ready(), this.registry);
  }

  createRun(request: CreateRunRequest, onProgress?: (p: LoadProgress) => void): Promise<RunInfo> {
    return this.runs.create(request, onProgress);
  }

  forwardBackward(
    runId: string,
    data: WireDatum[],
    lossFn: string,
    config: Record<string, number>,
    backward: boolean,
  ): Promise<WireForwardResult> {
    return this.runs.forwardBackward(runId, data, lossFn, config, backward);
  }

  backwardWeighted(runId: string, data: WireDatum[], weights: Float32Array[]): Promise<void> {
    return this.runs.backwardWeighted(runId, data, weights);
  }

  optimStep(runId: string, adam: AdamWire): Promise<Record<string, number>> {
    return this.runs.optimStep(runId, adam);
  }

  initTrainerServer(
    runId: string,
    rank: number,
  ): Promise<{ lora_rank: number; policy_version: number }> {
    return this.runs.initTrainerServer(runId, rank);
  }

  saveState(runId: string, name: string): Promise<string> {
    return this.runs.saveState(runId, name);
  }

  loadState(runId: string, path: string, withOptimizer: boolean): Promise<LoadStateResult> {
    return this.runs.loadState(runId, path, withOptimizer);
  }

  saveWeightsForSampler(runId: string, name: string): Promise<string> {
    return this.runs.saveWeightsForSampler(runId, name);
  }

  closeRun(runId: string): Promise<void> {
    return this.runs.close(runId);
  }

  createSampler(request: CreateSamplerRequest): Promise<SamplerInfo> {
    return this.samplers.create(request);
  }

  sample(request: SampleRequest): Promise<WireSampleResult> {
    return this.samplers.sample(request);
  }

  computeLogprobs(samplerId: string, prompt: Int32Array): Promise<(number | null)[]> {
    return this.samplers.computeLogprobs(samplerId, prompt);
  }

  closeSampler(samplerId: string): Promise<void> {
    return this.samplers.close(samplerId);
  }

  importAdapter(request: ImportAdapterRequest): Promise<Checkpoint> {
    return this.library.importAdapter(request);
  }

  listCheckpoints(runId: string | null): Promise<Checkpoint[]> {
    return this.library.list(runId);
  }

  checkpointFiles(idOrPath: string): Promise<WireCheckpointFile[]> {
    return this.library.files(idOrPath);
  }

  deleteCheckpoint(idOrPath: string): Promise<void> {
    return this.library.delete(idOrPath);
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
    await this.runs.closeAll();
    await this.samplers.closeAll();
    await this.registry.disposeAll();
  }

  private checkpoints(): CheckpointStore {
    if (!this.store)
      throw new ValidationError('the engine is not initialised; call init(backend) first.');
    return this.store;
  }

  private checkMemory(what: string, need: MemoryEstimate, fix: string): void {
    if (!this.budget) this.ready();
    checkMemory(what, need, this.budget as MemoryBudget, tf.memory().numBytes, fix);
  }

  private ready(): BackendReport {
    const lost = deviceLostError();
    if (lost) throw lost;
    if (!this.report)
      throw new ValidationError('the engine is not initialised; call init(backend) first.');
    return this.report;
  }
}
