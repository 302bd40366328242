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
import { RemoteOpError } from '../../errors/loops-errors';
import type {
  BackendReport,
  BackendRequest,
  EngineApi,
  EngineMemory,
  SelfCheckResult,
} from '../../protocol/engine-api';
import type { GetServerCapabilitiesResponse, TinkerCheckpoint } from '../../protocol/tinker-wire';
import type {
  AdamWire,
  Checkpoint,
  CreateRunRequest,
  CreateSamplerRequest,
  ImportAdapterRequest,
  LoadProgress,
  RunInfo,
  SampleRequest,
  SamplerInfo,
  ServerCapabilitiesWire,
  WireCheckpointFile,
  WireDatum,
  WireForwardResult,
  WireSampleResult,
} from '../../protocol/wire-types';
import { unsupportedError } from './errors';
import type { TinkerHttp } from './http';
import {
  deleteRemoteCheckpoint,
  listRemoteCheckpoints,
  remoteCheckpointFiles,
} from './remote-checkpoints';
import { RemoteRuns } from './remote-runs';
import { RemoteSamplers } from './remote-samplers';
import { RemoteSession } from './remote-session';
import { checkpointFromTinker } from './wire';

export class RemoteEngine implements EngineApi {
  private report: BackendReport | null = null;
  private readonly session: RemoteSession;
  private readonly samplers: RemoteSamplers;
  private readonly runs: RemoteRuns;

  constructor(
    private readonly http: TinkerHttp,
    hubUrl: string,
  ) {
    this.session = new RemoteSession(http, hubUrl);
    this.samplers = new RemoteSamplers(this.session);
    this.runs = new RemoteRuns(http, this.session);
  }

  /** Creates the session, starts its heartbeat and reads what the service is. */
  async init(backend: BackendRequest): Promise<BackendReport> {
    await this.session.open();
    this.report = {
      // BackendName has no 'remote': a service that does not say which backend it runs is named so.
      backend: (this.session.loops?.backend ?? 'remote') as BackendReport['backend'],
      requested: backend,
      adapter: null,
      reason: `a remote service at ${this.http.baseUrl}`,
      wasm: null,
    };
    return this.report;
  }

  async backendReport(): Promise<BackendReport | null> {
    return this.report;
  }

  /**
   * The service answers and its engine can run ops: loops-web serve reports its engine's health
   * (a lost GPU device is a `RemoteOpError` whose `cause_class` is `DeviceLostError`). A failing
   * heartbeat or request surfaces here as its typed error.
   */
  async health(): Promise<void> {
    try {
      await this.http.call('GET', 'healthz');
    } catch (error) {
      if (error instanceof RemoteOpError && error.cause_class === 'DeviceLostError')
        throw new RemoteOpError(
          `the service at ${this.http.baseUrl} cannot train any more: ${error.message} ` +
            'Restart the service before that (loops-web serve keeps its checkpoints across a ' +
            'restart only with --checkpoint-dir).',
          'DeviceLostError',
        );
      throw error;
    }
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
    return this.runs.with(runId, (run) => run.forwardBackward(data, lossFn, config, backward));
  }

  backwardWeighted(runId: string, data: WireDatum[], weights: Float32Array[]): Promise<void> {
    return this.runs.with(runId, (run) => run.backwardWeighted(data, weights));
  }

  optimStep(runId: string, adam: AdamWire): Promise<Record<string, number>> {
    return this.runs.with(runId, (run) => run.optimStep(adam));
  }

  initTrainerServer(runId: string, rank: number) {
    return this.runs.with(runId, (run) => run.initTrainerServer(rank));
  }

  saveState(runId: string, name: string): Promise<string> {
    return this.runs.with(runId, (run) => run.saveState(name));
  }

  loadState(runId: string, path: string, withOptimizer: boolean) {
    return this.runs.with(runId, (run) => run.loadState(path, withOptimizer));
  }

  saveWeightsForSampler(runId: string, name: string): Promise<string> {
    return this.runs.with(runId, (run) => run.saveWeightsForSampler(name));
  }

  closeRun(runId: string): Promise<void> {
    return this.runs.close(runId);
  }

  createSampler(request: CreateSamplerRequest): Promise<SamplerInfo> {
    return this.samplers.create(request, (runId) => this.runs.get(runId));
  }

  sample(request: SampleRequest): Promise<WireSampleResult> {
    return this.samplers.sample(request);
  }

  /** Tinker's compute_logprobs: a one-token sample with the prompt's log-probs. */
  async computeLogprobs(samplerId: string, prompt: Int32Array): Promise<(number | null)[]> {
    const result = await this.samplers.sample({
      samplerId,
      prompt,
      numSamples: 1,
      params: { max_tokens: 1, temperature: 1, top_p: 1, top_k: -1, seed: 0, stop: null },
      includePromptLogprobs: true,
      topkPromptLogprobs: 0,
    });
    return result.prompt_logprobs ?? [];
  }

  closeSampler(samplerId: string): Promise<void> {
    return this.samplers.close(samplerId);
  }

  async importAdapter(request: ImportAdapterRequest): Promise<Checkpoint> {
    if (!this.session.loops) throw unsupportedError('import_peft_adapter');
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
    if (!this.session.loops) throw unsupportedError('memory');
    return this.http.call<EngineMemory>('GET', 'loops_web/memory');
  }

  /**
   * Asks the service to free this session's runs and samplers (best effort, giving it 2 s to take
   * each request, not waiting for it to finish) and stops the heartbeat.
   */
  async shutdown(): Promise<void> {
    this.stopHeartbeat();
    await Promise.all([this.runs.closeAll(), this.samplers.closeAll(2)]);
  }

  /** Stops the heartbeat (the link is closing). */
  stopHeartbeat(): void {
    this.session.stopHeartbeat();
  }
}

/** Base64 of bytes, in browsers and Node alike. */
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
