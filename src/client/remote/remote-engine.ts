/**
 * The engine interface (src/protocol/engine-api.ts) spoken to a Tinker-compatible service over
 * REST, so `ServiceClient`, `TrainingClient`, `SamplingClient` and their futures work unchanged on
 * the `remote` placement. A session is created at `init` and kept alive with heartbeats; runs are
 * Tinker models (run id = model id); samplers are sampling sessions. Ops on a run go out in call
 * order with `seq_id`s (ordered-channel.ts) and their results are polled (poll.ts).
 *
 * The protocol, read from the Python SDK thinking-machines-lab/tinker at 0.24.1 (the last version
 * whose requests are all JSON; commit 6b02536): src/tinker/resources/{service,models,training,
 * weights,sampling,futures}.py for the routes, src/tinker/types/*.py for the bodies,
 * lib/internal_client_holder.py for sessions, heartbeats and counters, lib/api_future_impl.py for
 * polling, lib/public_interfaces/{service,training,sampling}_client.py for how calls map to
 * requests. Checked against NovaSky-AI/SkyRL's server (skyrl/tinker/api.py), which answers
 * create_model with the future and the model id, reports failures as HTTP 400 from retrieve_future,
 * and runs a model's ops in arrival order.
 *
 * Routes under /api/v1/loops_web/ are loops-web's own (tokenizer and model facts, the Loops-only
 * `init_trainer_server` and `import_peft_adapter`, engine memory); they are used only when the
 * service says it is loops-web (`loops_web` in get_server_capabilities). Against any other service
 * tokenizers come from `hub_url`, and the Loops-only calls fail with `NotSupportedByService`.
 */
import { ValidationError } from '../../errors/loops-errors';
import type { EngineApi, EngineMemory } from '../../protocol/engine-api';
import type { BackendReport, BackendRequest, SelfCheckResult } from '../../protocol/engine-api';
import type {
  CreateModelResponse,
  CreateSamplingSessionResponse,
  GetInfoResponse,
  GetSamplerResponse,
  GetServerCapabilitiesResponse,
  TinkerCheckpoint,
  WeightsInfoResponse,
} from '../../protocol/tinker-wire';
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
} from '../../protocol/wire-types';
import { malformedError, unsupportedError } from './errors';
import type { TinkerHttp } from './http';
import { hubModelFacts, loopsModelFacts } from './model-facts';
import { requestIdOf } from './ordered-channel';
import { retrieveResult } from './poll';
import {
  deleteRemoteCheckpoint,
  listRemoteCheckpoints,
  remoteCheckpointFiles,
} from './remote-checkpoints';
import { RemoteRun } from './remote-run';
import { checkpointFromTinker, sampleResultFromTinker, samplingParamsToTinker } from './wire';

/** The protocol version these requests follow: the Tinker SDK's last all-JSON release. */
export const TINKER_SDK_VERSION = '0.24.1';

interface RemoteSampler {
  readonly baseModel: string;
  readonly policyVersion: number;
  nextSeq: number;
}

export class RemoteEngine implements EngineApi {
  private report: BackendReport | null = null;
  private sessionId: string | null = null;
  private loops: GetServerCapabilitiesResponse['loops_web'] | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private modelSeq = 0;
  private samplingSeq = 0;
  private readonly runs = new Map<string, RemoteRun>();
  private readonly samplers = new Map<string, RemoteSampler>();
  private readonly facts = new Map<string, Promise<ModelFacts>>();

  constructor(
    private readonly http: TinkerHttp,
    private readonly hubUrl: string,
  ) {}

  /** Creates the session, starts its heartbeat and reads what the service is. */
  async init(backend: BackendRequest): Promise<BackendReport> {
    const caps = await this.http.call<GetServerCapabilitiesResponse>(
      'GET',
      'get_server_capabilities',
    );
    this.loops = caps.loops_web ?? null;
    const session = await this.http.call<{ session_id?: string }>('POST', 'create_session', {
      tags: [],
      user_metadata: {},
      sdk_version: TINKER_SDK_VERSION,
      type: 'create_session',
    });
    if (typeof session.session_id !== 'string')
      throw malformedError('create_session', 'an answer without a session_id');
    this.sessionId = session.session_id;
    this.startHeartbeat();
    this.report = {
      // BackendName has no 'remote': a service that does not say which backend it runs is named so.
      backend: (this.loops?.backend ?? 'remote') as BackendReport['backend'],
      requested: backend,
      adapter: null,
      reason: `a remote service at ${this.http.baseUrl}`,
    };
    return this.report;
  }

  async backendReport(): Promise<BackendReport | null> {
    return this.report;
  }

  async selfCheck(): Promise<SelfCheckResult> {
    throw unsupportedError('selfCheck');
  }

  async capabilities(): Promise<ServerCapabilitiesWire> {
    const caps = await this.http.call<GetServerCapabilitiesResponse>(
      'GET',
      'get_server_capabilities',
    );
    return {
      supported_models: (caps.supported_models ?? []).map((m) => ({
        model_name: m.model_name ?? '',
        max_context_length: m.max_context_length ?? 0,
        shipped: m.shipped ?? false,
      })),
      backend: caps.loops_web?.backend ?? 'remote',
      adapter: caps.loops_web?.adapter ?? null,
    };
  }

  async createRun(
    request: CreateRunRequest,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<RunInfo> {
    if (request.loraAlpha !== null)
      throw new ValidationError(
        'lora_alpha is not part of the Tinker protocol; a remote service uses its own (32 on loops-web serve). Leave it out.',
      );
    let rank = request.rank;
    let config = {
      train_mlp: request.trainMlp,
      train_attn: request.trainAttn,
      train_unembed: request.trainUnembed,
    };
    let baseModel = request.baseModel;
    if (request.fromState) {
      // As the SDK does (service_client.py create_training_client_from_state): read the
      // checkpoint's LoRA config, make a model of that shape, then load the weights into it.
      const info = await this.http.call<WeightsInfoResponse>('POST', 'weights_info', {
        tinker_path: request.fromState.path,
      });
      baseModel = info.base_model;
      rank = info.lora_rank ?? rank;
      config = {
        train_mlp: info.train_mlp ?? true,
        train_attn: info.train_attn ?? true,
        train_unembed: info.train_unembed ?? true,
      };
    }
    const modelId = await this.createModel(baseModel, rank, request.seed, config);
    const run = new RemoteRun(this.http, modelId, baseModel, 1, 0, this.loops !== null);
    this.runs.set(modelId, run);
    try {
      if (request.fromState)
        await run.loadState(request.fromState.path, request.fromState.withOptimizer);
      const facts = await this.modelFacts(baseModel, modelId);
      onProgress?.({ phase: 'ready', loaded: 1, total: 1 });
      return {
        ...facts,
        runId: modelId,
        loraRank: rank,
        maxSeqLen: Math.min(request.maxSeqLen ?? facts.maxPositions, facts.maxPositions),
        policyVersion: run.policyVersion,
      };
    } catch (error) {
      await this.closeRun(modelId).catch(() => undefined);
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
    return this.withRun(runId, (run) => run.forwardBackward(data, lossFn, config, backward));
  }

  backwardWeighted(runId: string, data: WireDatum[], weights: Float32Array[]): Promise<void> {
    return this.withRun(runId, (run) => run.backwardWeighted(data, weights));
  }

  optimStep(runId: string, adam: AdamWire): Promise<Record<string, number>> {
    return this.withRun(runId, (run) => run.optimStep(adam));
  }

  initTrainerServer(runId: string, rank: number) {
    return this.withRun(runId, (run) => run.initTrainerServer(rank));
  }

  saveState(runId: string, name: string): Promise<string> {
    return this.withRun(runId, (run) => run.saveState(name));
  }

  loadState(runId: string, path: string, withOptimizer: boolean) {
    return this.withRun(runId, (run) => run.loadState(path, withOptimizer));
  }

  saveWeightsForSampler(runId: string, name: string): Promise<string> {
    return this.withRun(runId, (run) => run.saveWeightsForSampler(name));
  }

  async closeRun(runId: string): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) return;
    this.runs.delete(runId);
    await run.close();
  }

  async createSampler(request: CreateSamplerRequest): Promise<SamplerInfo> {
    if (request.kind === 'base') {
      const id = await this.createSamplingSession({ base_model: request.baseModel });
      return this.addSampler(id, request.baseModel, 0, null);
    }
    if (request.kind === 'checkpoint') return this.samplerFromPath(request.path);
    return this.withRun(request.runId, async (run) => {
      if (request.name !== null) {
        const saved = await run.saveForSampler(request.name, undefined);
        return this.samplerFromPath(String(saved.path));
      }
      const saved = await run.saveForSampler(null, this.samplingSeq++);
      if (typeof saved.sampling_session_id !== 'string')
        throw malformedError(
          'save_weights_for_sampler',
          'a snapshot without a sampling_session_id',
        );
      const version = (saved.policy_version as number | undefined) ?? run.policyVersion;
      return this.addSampler(saved.sampling_session_id, run.baseModel, version, null);
    });
  }

  async sample(request: SampleRequest): Promise<WireSampleResult> {
    const sampler = this.samplers.get(request.samplerId);
    if (!sampler)
      throw new ValidationError(
        `sampler ${request.samplerId} is closed or unknown; create a new SamplingClient.`,
      );
    const seqId = sampler.nextSeq++;
    const future = await this.http.call('POST', 'asample', {
      num_samples: request.numSamples,
      prompt: { chunks: [{ tokens: Array.from(request.prompt), type: 'encoded_text' }] },
      sampling_params: samplingParamsToTinker(request.params),
      sampling_session_id: request.samplerId,
      seq_id: seqId,
      prompt_logprobs: request.includePromptLogprobs,
      topk_prompt_logprobs: request.topkPromptLogprobs,
      type: 'sample',
    });
    const result = await retrieveResult(this.http, requestIdOf(future, 'asample'), 'asample');
    return sampleResultFromTinker('asample', result, sampler.policyVersion);
  }

  async closeSampler(samplerId: string, retrySeconds?: number): Promise<void> {
    if (!this.samplers.delete(samplerId) || !this.loops) return;
    const body = { sampling_session_id: samplerId };
    await this.http.call('POST', 'loops_web/close_sampler', body, { retrySeconds });
  }

  async importAdapter(request: ImportAdapterRequest): Promise<Checkpoint> {
    if (!this.loops) throw unsupportedError('import_peft_adapter');
    const stored = await this.http.call<TinkerCheckpoint>('POST', 'loops_web/import_adapter', {
      base_model: request.baseModel,
      name: request.name,
      adapter_model: toBase64(request.weights),
      adapter_config: request.config,
    });
    return checkpointFromTinker(stored);
  }

  listCheckpoints(runId: string | null): Promise<Checkpoint[]> {
    return listRemoteCheckpoints(this.http, runId);
  }

  checkpointFiles(idOrPath: string): Promise<WireCheckpointFile[]> {
    return remoteCheckpointFiles(this.http, idOrPath);
  }

  deleteCheckpoint(idOrPath: string): Promise<void> {
    return deleteRemoteCheckpoint(this.http, idOrPath);
  }

  async memory(): Promise<EngineMemory> {
    if (!this.loops) throw unsupportedError('memory');
    return this.http.call<EngineMemory>('GET', 'loops_web/memory');
  }

  /**
   * Asks the service to free this session's runs and samplers (best effort, without waiting for
   * it to finish) and stops the heartbeat.
   */
  async shutdown(): Promise<void> {
    this.stopHeartbeat();
    const runs = [...this.runs.values()];
    this.runs.clear();
    const closing = runs.map((run) => run.close(false).catch(() => undefined));
    const samplers = [...this.samplers.keys()].map((id) =>
      this.closeSampler(id, 2).catch(() => undefined),
    );
    await Promise.all([...closing, ...samplers]);
  }

  /** Stops the heartbeat (the link is closing). */
  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private startHeartbeat(): void {
    const beat = () => {
      void this.http
        .send(
          'POST',
          'session_heartbeat',
          {
            session_id: this.sessionId,
            type: 'session_heartbeat',
          },
          { timeoutSeconds: 10 },
        )
        .catch(() => undefined);
    };
    this.heartbeat = setInterval(beat, this.http.tuning.heartbeatSeconds * 1000);
    // In Node, a heartbeat alone must not keep a finished script alive.
    (this.heartbeat as { unref?: () => void }).unref?.();
  }

  private async createModel(
    baseModel: string,
    rank: number,
    seed: number | null,
    flags: { train_mlp: boolean; train_attn: boolean; train_unembed: boolean },
  ): Promise<string> {
    const future = await this.http.call('POST', 'create_model', {
      session_id: this.session(),
      model_seq_id: this.modelSeq++,
      base_model: baseModel,
      lora_config: { rank, ...(seed !== null ? { seed } : {}), ...flags },
      type: 'create_model',
    });
    const result = (await retrieveResult(
      this.http,
      requestIdOf(future, 'create_model'),
      'create_model',
    )) as Partial<CreateModelResponse>;
    const modelId = result.model_id ?? (future as { model_id?: string }).model_id;
    if (typeof modelId !== 'string')
      throw malformedError('create_model', 'a result without a model_id');
    return modelId;
  }

  private async createSamplingSession(target: { base_model?: string; model_path?: string }) {
    const created = await this.http.call<Partial<CreateSamplingSessionResponse>>(
      'POST',
      'create_sampling_session',
      {
        session_id: this.session(),
        sampling_session_seq_id: this.samplingSeq++,
        ...target,
        type: 'create_sampling_session',
      },
    );
    if (typeof created.sampling_session_id !== 'string')
      throw malformedError('create_sampling_session', 'an answer without a sampling_session_id');
    return created.sampling_session_id;
  }

  private async samplerFromPath(path: string): Promise<SamplerInfo> {
    const id = await this.createSamplingSession({ model_path: path });
    const info = await this.http.call<GetSamplerResponse & { policy_version?: number }>(
      'GET',
      `samplers/${encodeURIComponent(id)}`,
    );
    return this.addSampler(id, info.base_model, info.policy_version ?? 0, path);
  }

  private async addSampler(
    id: string,
    baseModel: string,
    policyVersion: number,
    path: string | null,
  ): Promise<SamplerInfo> {
    const facts = await this.modelFacts(baseModel, null);
    this.samplers.set(id, { baseModel, policyVersion, nextSeq: 0 });
    return { ...facts, samplerId: id, policyVersion, path };
  }

  /** Facts of `baseModel`, fetched once per client (from loops-web, else from the hub). */
  private modelFacts(baseModel: string, modelId: string | null): Promise<ModelFacts> {
    let facts = this.facts.get(baseModel);
    if (!facts) {
      facts = this.loops
        ? loopsModelFacts(this.http, baseModel)
        : this.tokenizerRepo(modelId, baseModel).then((repo) =>
            hubModelFacts(this.hubUrl, baseModel, repo),
          );
      this.facts.set(baseModel, facts);
      facts.catch(() => this.facts.delete(baseModel));
    }
    return facts;
  }

  /** The tokenizer's repo as the service names it (`get_info`'s tokenizer_id), else the model's. */
  private async tokenizerRepo(modelId: string | null, baseModel: string): Promise<string> {
    if (!modelId) return baseModel;
    const info = await this.http
      .call<GetInfoResponse>('POST', 'get_info', { model_id: modelId, type: 'get_info' })
      .catch(() => null);
    return info?.model_data?.tokenizer_id?.split(':')[0] || baseModel;
  }

  private withRun<T>(runId: string, op: (run: RemoteRun) => Promise<T>): Promise<T> {
    const run = this.runs.get(runId);
    if (!run)
      return Promise.reject(
        new ValidationError(`run ${runId} is closed or unknown; create a new TrainingClient.`),
      );
    return op(run);
  }

  private session(): string {
    if (!this.sessionId)
      throw new ValidationError('the remote session is not open; call init first.');
    return this.sessionId;
  }
}

/** Base64 of bytes, in browsers and Node alike. */
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
