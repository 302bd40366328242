/**
 * Samplers on a remote service: each `SamplingClient` is a Tinker sampling session, made from a
 * base model, from a sampler checkpoint, or (as `save_weights_and_get_sampling_client` does in the
 * SDK) from a run's current weights, saved under a name or as an unnamed snapshot with its own
 * session. Samples are `asample` futures, `seq_id` 0, 1, 2, … per session (tinker 0.24.1,
 * lib/public_interfaces/sampling_client.py). loops-web reports the policy version a sampler holds;
 * for another service it is the run's step as this client last saw it (0 for a checkpoint).
 */
import { ValidationError } from '../../errors/loops-errors';
import type { GetSamplerResponse } from '../../protocol/tinker-wire';
import type {
  CreateSamplerRequest,
  SampleRequest,
  SamplerInfo,
  WireSampleResult,
} from '../../protocol/wire-types';
import { malformedError } from './errors';
import { requestIdOf } from './ordered-channel';
import { retrieveResult } from './poll';
import type { RemoteRun } from './remote-run';
import type { RemoteSession } from './remote-session';
import { sampleResultFromTinker, samplingParamsToTinker } from './wire';

interface RemoteSampler {
  readonly policyVersion: number;
  nextSeq: number;
}

export class RemoteSamplers {
  private readonly samplers = new Map<string, RemoteSampler>();

  constructor(private readonly session: RemoteSession) {}

  /** A sampler for `request`; `run` resolves the run of a `kind: 'run'` request. */
  async create(
    request: CreateSamplerRequest,
    run: (runId: string) => RemoteRun,
  ): Promise<SamplerInfo> {
    if (request.kind === 'base') {
      const id = await this.session.createSamplingSession({ base_model: request.baseModel });
      return this.add(id, request.baseModel, 0, null);
    }
    if (request.kind === 'checkpoint') return this.fromPath(request.path);
    const source = run(request.runId);
    if (request.name !== null) {
      const saved = await source.saveForSampler(request.name, undefined);
      return this.fromPath(String(saved.path));
    }
    const saved = await source.saveForSampler(null, this.session.nextSamplingSeq());
    if (typeof saved.sampling_session_id !== 'string')
      throw malformedError('save_weights_for_sampler', 'a snapshot without a sampling_session_id');
    const version = (saved.policy_version as number | undefined) ?? source.policyVersion;
    return this.add(saved.sampling_session_id, source.baseModel, version, null);
  }

  async sample(request: SampleRequest): Promise<WireSampleResult> {
    const sampler = this.samplers.get(request.samplerId);
    if (!sampler)
      throw new ValidationError(
        `sampler ${request.samplerId} is closed or unknown; create a new SamplingClient.`,
      );
    const http = this.session.http;
    const future = await http.call('POST', 'asample', {
      num_samples: request.numSamples,
      prompt: { chunks: [{ tokens: Array.from(request.prompt), type: 'encoded_text' }] },
      sampling_params: samplingParamsToTinker(request.params),
      sampling_session_id: request.samplerId,
      seq_id: sampler.nextSeq++,
      prompt_logprobs: request.includePromptLogprobs,
      topk_prompt_logprobs: request.topkPromptLogprobs,
      type: 'sample',
    });
    const result = await retrieveResult(http, requestIdOf(future, 'asample'), 'asample');
    return sampleResultFromTinker('asample', result, sampler.policyVersion);
  }

  /** Forgets the sampler; loops-web frees it at once, another service when the session ends. */
  async close(samplerId: string, retrySeconds?: number): Promise<void> {
    if (!this.samplers.delete(samplerId) || !this.session.loops) return;
    const body = { sampling_session_id: samplerId };
    await this.session.http.call('POST', 'loops_web/close_sampler', body, { retrySeconds });
  }

  /** Closes every sampler, giving the service `retrySeconds` to take each request. */
  async closeAll(retrySeconds: number): Promise<void> {
    const ids = [...this.samplers.keys()];
    await Promise.all(ids.map((id) => this.close(id, retrySeconds).catch(() => undefined)));
  }

  private async fromPath(path: string): Promise<SamplerInfo> {
    const id = await this.session.createSamplingSession({ model_path: path });
    const info = await this.session.http.call<GetSamplerResponse & { policy_version?: number }>(
      'GET',
      `samplers/${encodeURIComponent(id)}`,
    );
    return this.add(id, info.base_model, info.policy_version ?? 0, path);
  }

  private async add(
    id: string,
    baseModel: string,
    policyVersion: number,
    path: string | null,
  ): Promise<SamplerInfo> {
    const facts = await this.session.modelFacts(baseModel, null);
    this.samplers.set(id, { policyVersion, nextSeq: 0 });
    return { ...facts, samplerId: id, policyVersion, path };
  }
}
