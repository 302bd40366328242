/**
 * The engine's remote interface: what the page may call on the engine (in a Worker through
 * comlink, or in-process in Node). Types only; everything that crosses is plain,
 * structured-cloneable data, and token/weight arrays are typed arrays so they can be transferred.
 */
import type { BackendReport, BackendRequest, BackendOptions } from '../runtime/backend';
import type { SelfCheckInput, SelfCheckResult } from '../runtime/self-check';
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
} from './wire-types';

export type { BackendReport, BackendRequest, BackendOptions, SelfCheckInput, SelfCheckResult };
export type * from './wire-types';

/** The engine's TF.js memory (`tf.memory()`), as plain numbers: what leak and soak checks compare. */
export interface EngineMemory {
  readonly backend: string | null;
  readonly numTensors: number;
  readonly numDataBuffers: number;
  readonly numBytes: number;
}

/**
 * Posted by the engine worker on its own port just before it ends itself (`self.close()`): a
 * closed worker answers nothing and browsers fire no event for it, so the page's link fails its
 * pending calls on this notice instead of waiting forever.
 */
export interface EngineExitNotice {
  readonly loopsEngineExit: string;
}

export interface EngineApi {
  /** Chooses the backend; resolves with what is in use and why. */
  init(backend: BackendRequest, options?: BackendOptions): Promise<BackendReport>;
  /** The current backend report (null before `init`). */
  backendReport(): Promise<BackendReport | null>;
  /**
   * Resolves while the engine can run ops; rejects with `RemoteOpError` (`DeviceLostError`) once
   * its GPU device is lost, or a `ValidationError` before `init`.
   */
  health(): Promise<void>;
  /** Matmul + gradient on the current backend, for end-to-end checks. */
  selfCheck(input: SelfCheckInput): Promise<SelfCheckResult>;

  capabilities(): Promise<ServerCapabilitiesWire>;
  /** Loads (or reuses) the base model and makes a run with a fresh adapter or one from a checkpoint. */
  createRun(request: CreateRunRequest, onProgress?: (p: LoadProgress) => void): Promise<RunInfo>;
  /** Forward (and backward when `backward`): the loss, per-datum log-probs and metrics. */
  forwardBackward(
    runId: string,
    data: WireDatum[],
    lossFn: string,
    config: Record<string, number>,
    backward: boolean,
  ): Promise<WireForwardResult>;
  /** Accumulates the gradient of −Σ w·lp (the second half of `forward_backward_custom`). */
  backwardWeighted(runId: string, data: WireDatum[], weights: Float32Array[]): Promise<void>;
  optimStep(runId: string, adam: AdamWire): Promise<Record<string, number>>;
  initTrainerServer(
    runId: string,
    rank: number,
  ): Promise<{ lora_rank: number; policy_version: number }>;
  saveState(runId: string, name: string): Promise<string>;
  loadState(runId: string, path: string, withOptimizer: boolean): Promise<LoadStateResult>;
  saveWeightsForSampler(runId: string, name: string): Promise<string>;
  closeRun(runId: string): Promise<void>;

  createSampler(request: CreateSamplerRequest): Promise<SamplerInfo>;
  sample(request: SampleRequest): Promise<WireSampleResult>;
  /** lp(prompt[i] | prompt[< i]) for every i (entry 0 null): one forward, nothing generated. */
  computeLogprobs(samplerId: string, prompt: Int32Array): Promise<(number | null)[]>;
  closeSampler(samplerId: string): Promise<void>;

  /** Stores a PEFT adapter made elsewhere as a trainer checkpoint (no optimizer state) of a new run id. */
  importAdapter(request: ImportAdapterRequest): Promise<Checkpoint>;
  listCheckpoints(runId: string | null): Promise<Checkpoint[]>;
  checkpointFiles(idOrPath: string): Promise<WireCheckpointFile[]>;
  deleteCheckpoint(idOrPath: string): Promise<void>;
  /** Tensors and bytes TF.js holds in the engine now (leak checks across the worker boundary). */
  memory(): Promise<EngineMemory>;
  /** Frees every run, sampler and model. */
  shutdown(): Promise<void>;
}
