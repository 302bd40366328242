/**
 * `ServiceClient`: the entry point of the Loops API. It starts the engine (a Worker in browsers,
 * in-process in Node, or a Tinker-compatible service at `base_url` with `engine: 'remote'`),
 * creates training and sampling clients, and answers capability and checkpoint queries.
 * shared/LOOPS_API.md, "ServiceClient".
 */
import { ValidationError } from '../errors/loops-errors';
import type { BackendReport } from '../protocol/engine-api';
import type {
  CheckpointFilesResponse,
  Checkpoint,
  ServerCapabilities,
} from '../protocol/responses';
import type { CreateRunRequest, LoadProgress } from '../protocol/wire-types';
import { parseArgs } from './args';
import { inProcessLink, type EngineLink } from './engine-link';
import { checkpointFilesResponse } from './checkpoint-files';
import { ObjectUrls } from './object-urls';
import { checkCheckpointId, checkCheckpointPath } from './validate';
import { SamplingClient } from './sampling-client';
import { checkServiceOptions, placementStart, type ServiceClientOptions } from './service-options';
import { TrainingClient } from './training-client';
import type { WandbConfig } from './types/params';

export {
  registerPlacement,
  type Placement,
  type PlacementStart,
  type ServiceClientOptions,
} from './service-options';

export { inProcessLink };

export class ServiceClient {
  readonly session_id: string;
  readonly hub_url: string;
  private readonly link: EngineLink;
  private readonly ready: Promise<BackendReport>;
  /** Object URLs of checkpoint files handed out so far (revoked on delete and close). */
  private readonly urls = new ObjectUrls();
  private closed = false;

  constructor(options: ServiceClientOptions = {}) {
    const opts = checkServiceOptions(options);
    const start = placementStart(opts.engine);
    this.session_id = `session-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    this.hub_url = (opts.hub_url ?? 'https://huggingface.co').replace(/\/+$/, '');
    // The key goes to the placement and nowhere else: not a field, not a log line.
    this.link = start({ base_url: opts.base_url, api_key: opts.api_key, hub_url: this.hub_url });
    this.ready = this.link.engine.init(opts.backend ?? 'auto', {
      storageNamespace: opts.storage_namespace ?? 'loops-web',
      ...(opts.wasm_threads === undefined ? {} : { wasmThreads: opts.wasm_threads }),
      ...(opts.gpu_kernels === undefined ? {} : { gpuKernels: opts.gpu_kernels }),
      ...(opts.gpu_limits === undefined ? {} : { gpuLimits: opts.gpu_limits }),
    } as never);
    this.ready.catch(() => undefined);
  }

  /** The backend and adapter the engine got, and why. */
  backend(): Promise<BackendReport> {
    return this.ready;
  }

  /** A LoRA training run on `base_model` with a fresh adapter (B = 0: the model is unchanged). */
  async create_lora_training_client(...args: unknown[]): Promise<TrainingClient> {
    const a = parseArgs(
      'create_lora_training_client',
      [
        'base_model',
        'rank',
        'seed',
        'train_mlp',
        'train_attn',
        'train_unembed',
        'wandb_config',
        'lora_alpha',
        'max_seq_len',
        'on_progress',
      ],
      args,
      ['replicas', 'with_sampler', 'name', 'timeout', 'ready_timeout', 'user_metadata'],
    );
    if (typeof a.base_model !== 'string' || !a.base_model)
      throw new ValidationError('base_model must be a model name or Hugging Face repo id.');
    const rank = a.rank ?? 32;
    if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1)
      throw new ValidationError(`rank must be a positive integer, got ${String(rank)}.`);
    const flag = (v: unknown, name: string) => {
      if (v !== undefined && typeof v !== 'boolean')
        throw new ValidationError(`${name} must be true or false.`);
      return v !== false;
    };
    const request: CreateRunRequest = {
      baseModel: a.base_model,
      rank,
      seed: optionalInt(a.seed, 'seed'),
      trainMlp: flag(a.train_mlp, 'train_mlp'),
      trainAttn: flag(a.train_attn, 'train_attn'),
      trainUnembed: flag(a.train_unembed, 'train_unembed'),
      loraAlpha: (a.lora_alpha as number | undefined) ?? null,
      maxSeqLen: optionalInt(a.max_seq_len, 'max_seq_len'),
      hubUrl: this.hub_url,
      fromState: null,
    };
    return this.startRun(
      request,
      a.on_progress as ((p: LoadProgress) => void) | undefined,
      a.wandb_config as WandbConfig | undefined,
    );
  }

  create_training_client_from_state(...args: unknown[]): Promise<TrainingClient> {
    return this.fromState(args, false);
  }

  create_training_client_from_state_with_optimizer(...args: unknown[]): Promise<TrainingClient> {
    return this.fromState(args, true);
  }

  /** Samples from a base model with no adapter. */
  async create_sampling_client(...args: unknown[]): Promise<SamplingClient> {
    const a = parseArgs('create_sampling_client', ['base_model', 'model_path'], args);
    await this.ensureOpen();
    if (a.model_path !== undefined && a.model_path !== null)
      return SamplingClient.create(this.link, {
        kind: 'checkpoint',
        path: checkCheckpointPath('create_sampling_client', a.model_path, 'model_path'),
        hubUrl: this.hub_url,
      });
    if (typeof a.base_model !== 'string')
      throw new ValidationError(
        'create_sampling_client needs base_model (a model name) or model_path.',
      );
    return SamplingClient.create(this.link, {
      kind: 'base',
      baseModel: a.base_model,
      hubUrl: this.hub_url,
    });
  }

  async get_server_capabilities(...args: unknown[]): Promise<ServerCapabilities> {
    parseArgs('get_server_capabilities', [], args); // no parameters: an argument is a mistake
    await this.ensureOpen();
    return this.link.engine.capabilities();
  }

  async list_checkpoints(...args: unknown[]): Promise<Checkpoint[]> {
    const a = parseArgs('list_checkpoints', ['run_id'], args);
    await this.ensureOpen();
    return this.link.engine.listCheckpoints(typeof a.run_id === 'string' ? a.run_id : null);
  }

  async get_checkpoint_archive_url(...args: unknown[]): Promise<CheckpointFilesResponse> {
    const a = parseArgs('get_checkpoint_archive_url', ['checkpoint_id'], args);
    const id = checkCheckpointId(a.checkpoint_id);
    await this.ensureOpen();
    const files = await this.link.engine.checkpointFiles(id);
    return checkpointFilesResponse(files, this.urls);
  }

  /**
   * Imports a PEFT LoRA adapter made elsewhere (`adapter_model.safetensors` + `adapter_config.json`)
   * for `base_model`. The result is a trainer checkpoint with a fresh optimizer: sample from it with
   * `create_sampling_client({ model_path })` or continue training with
   * `create_training_client_from_state(path)`.
   */
  async import_peft_adapter(...args: unknown[]): Promise<Checkpoint> {
    const a = parseArgs(
      'import_peft_adapter',
      ['base_model', 'adapter_model', 'adapter_config', 'name'],
      args,
    );
    if (typeof a.base_model !== 'string')
      throw new ValidationError('base_model must name the model the adapter was trained on.');
    const weights = await toBytes(a.adapter_model, 'adapter_model');
    const configText = a.adapter_config;
    let config: unknown = configText;
    if (typeof configText === 'string') config = parseJsonArg(configText);
    else if (configText instanceof Blob) config = parseJsonArg(await configText.text());
    else if (configText instanceof Uint8Array)
      config = parseJsonArg(new TextDecoder().decode(configText));
    const name = (a.name as string | undefined) ?? 'imported';
    await this.ensureOpen();
    return this.link.engine.importAdapter(
      this.link.transfer({ baseModel: a.base_model, hubUrl: this.hub_url, weights, config, name }, [
        weights.buffer as ArrayBuffer,
      ]),
    );
  }

  /** Deletes a checkpoint by id or path; object URLs made for its files are revoked. */
  async delete_checkpoint(...args: unknown[]): Promise<void> {
    const a = parseArgs('delete_checkpoint', ['checkpoint_id'], args);
    const id = checkCheckpointId(a.checkpoint_id);
    await this.ensureOpen();
    await this.link.engine.deleteCheckpoint(id);
    this.urls.revokeFor(id);
  }

  /** Ends the engine and frees the GPU; pending ops reject; checkpoint file URLs are revoked. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.urls.revokeAll();
    await this.link.engine.shutdown().catch(() => undefined);
    this.link.close();
  }

  private async fromState(args: unknown[], withOptimizer: boolean): Promise<TrainingClient> {
    const a = parseArgs('create_training_client_from_state', ['path', 'on_progress'], args);
    const path = checkCheckpointPath('create_training_client_from_state', a.path);
    const request: CreateRunRequest = {
      baseModel: '',
      rank: 1,
      seed: null,
      trainMlp: true,
      trainAttn: true,
      trainUnembed: true,
      loraAlpha: null,
      maxSeqLen: null,
      hubUrl: this.hub_url,
      fromState: { path, withOptimizer },
    };
    return this.startRun(
      request,
      a.on_progress as ((p: LoadProgress) => void) | undefined,
      undefined,
    );
  }

  private async startRun(
    request: CreateRunRequest,
    onProgress: ((p: LoadProgress) => void) | undefined,
    wandb: WandbConfig | undefined,
  ): Promise<TrainingClient> {
    await this.ensureOpen();
    const info = await this.link.engine.createRun(
      request,
      onProgress ? this.link.callback(onProgress) : undefined,
    );
    return new TrainingClient(this.link, info, this.hub_url, wandb ?? null, this.urls);
  }

  private async ensureOpen(): Promise<void> {
    if (this.closed) throw new ValidationError('this ServiceClient is closed; create a new one.');
    await this.ready;
  }
}

async function toBytes(value: unknown, name: string): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value.slice();
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (value instanceof Blob) return new Uint8Array(await value.arrayBuffer());
  throw new ValidationError(
    `${name} must be the file's bytes (Uint8Array, ArrayBuffer or Blob/File).`,
  );
}

function parseJsonArg(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`adapter_config is not valid JSON: ${(error as Error).message}.`);
  }
}

function optionalInt(value: unknown, name: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new ValidationError(`${name} must be an integer, got ${String(value)}.`);
  return value;
}
