/**
 * One client's session on a remote Tinker service: created with `create_session` and kept alive by
 * `session_heartbeat` every 10 s (tinker 0.24.1 lib/internal_client_holder.py), the session's
 * counters (`model_seq_id` per created model, `sampling_session_seq_id` per sampling session),
 * what the service said it is (loops-web or not), and the base models' facts (model-facts.ts),
 * fetched once each. Model and sampling-session creation live here because both count in the
 * session.
 */
import { ValidationError } from '../../errors/loops-errors';
import type {
  CreateModelResponse,
  CreateSamplingSessionResponse,
  GetInfoResponse,
  GetServerCapabilitiesResponse,
} from '../../protocol/tinker-wire';
import type { ModelFacts } from '../../protocol/wire-types';
import { malformedError } from './errors';
import type { TinkerHttp } from './http';
import { hubModelFacts, loopsModelFacts } from './model-facts';
import { requestIdOf } from './ordered-channel';
import { retrieveResult } from './poll';

/** The protocol version these requests follow: the Tinker SDK's last all-JSON release. */
export const TINKER_SDK_VERSION = '0.24.1';

export interface LoraFlags {
  readonly train_mlp: boolean;
  readonly train_attn: boolean;
  readonly train_unembed: boolean;
}

export class RemoteSession {
  /** What loops-web serve says of itself; null for any other service. */
  loops: GetServerCapabilitiesResponse['loops_web'] | null = null;
  private id: string | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private modelSeq = 0;
  private samplingSeq = 0;
  private readonly facts = new Map<string, Promise<ModelFacts>>();

  constructor(
    readonly http: TinkerHttp,
    private readonly hubUrl: string,
  ) {}

  /** Reads what the service is, creates the session and starts its heartbeat. */
  async open(): Promise<void> {
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
    this.id = session.session_id;
    const beat = () =>
      void this.http
        .send(
          'POST',
          'session_heartbeat',
          { session_id: this.id, type: 'session_heartbeat' },
          {
            timeoutSeconds: 10,
          },
        )
        .catch(() => undefined);
    this.heartbeat = setInterval(beat, this.http.tuning.heartbeatSeconds * 1000);
    // In Node, a heartbeat alone must not keep a finished script alive.
    (this.heartbeat as { unref?: () => void }).unref?.();
  }

  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** The next `sampling_session_seq_id` of this session. */
  nextSamplingSeq(): number {
    return this.samplingSeq++;
  }

  /** `create_model` with a LoRA config; resolves with the new model's id. */
  async createModel(
    baseModel: string,
    rank: number,
    seed: number | null,
    flags: LoraFlags,
  ): Promise<string> {
    const future = await this.http.call('POST', 'create_model', {
      session_id: this.sessionId(),
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
    // SkyRL's server also puts the model id in the future itself.
    const modelId = result.model_id ?? (future as { model_id?: string }).model_id;
    if (typeof modelId !== 'string')
      throw malformedError('create_model', 'a result without a model_id');
    return modelId;
  }

  /** `create_sampling_session` from a base model or a sampler checkpoint path. */
  async createSamplingSession(target: { base_model?: string; model_path?: string }) {
    const created = await this.http.call<Partial<CreateSamplingSessionResponse>>(
      'POST',
      'create_sampling_session',
      {
        session_id: this.sessionId(),
        sampling_session_seq_id: this.nextSamplingSeq(),
        ...target,
        type: 'create_sampling_session',
      },
    );
    if (typeof created.sampling_session_id !== 'string')
      throw malformedError('create_sampling_session', 'an answer without a sampling_session_id');
    return created.sampling_session_id;
  }

  /** Facts of `baseModel`, fetched once per client (from loops-web, else from the hub). */
  modelFacts(baseModel: string, modelId: string | null): Promise<ModelFacts> {
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

  private sessionId(): string {
    if (!this.id) throw new ValidationError('the remote session is not open; call init first.');
    return this.id;
  }
}
