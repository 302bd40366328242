/**
 * Sampling routes: create_sampling_session (an engine sampler from a base model or a sampler
 * checkpoint), samplers/{id}, asample (a future), and loops-web's close_sampler. The prompt and the
 * sampling parameters get the page's call-time checks (src/client/validate.ts,
 * src/core/sampling-params.ts). tinker 0.24.1: resources/{service,sampling}.py,
 * types/{create_sampling_session_request,sample_request,sample_response}.py.
 */
import { normaliseSamplingParams } from '../core/sampling-params';
import { ValidationError } from '../errors/loops-errors';
import { checkPrompt } from '../client/validate';
import { SamplingParams } from '../client/types/params';
import type { CreateSamplingSessionRequest, SampleRequest } from '../protocol/tinker-wire';
import { HttpError, api, type Route } from './http-server';
import { toEnginePath, toTinkerPath } from './tinker/paths';
import { sampleResponse } from './tinker/translate';
import type { TinkerService } from './tinker-service';

export function samplingRoutes(service: TinkerService): Route[] {
  const { engine } = service;
  return [
    {
      method: 'POST',
      pattern: api('create_sampling_session'),
      schema: 'create_sampling_session',
      handle: async (req) => {
        const b = req.body as CreateSamplingSessionRequest;
        if ((b.base_model === undefined) === (b.model_path === undefined))
          throw new HttpError(
            400,
            'create_sampling_session needs exactly one of base_model or model_path.',
          );
        const hubUrl = service.options.hubUrl;
        const id = await service.samplingSessionOnce(
          b.session_id,
          b.sampling_session_seq_id,
          async () => {
            const info = await engine.createSampler(
              b.base_model !== undefined
                ? { kind: 'base', baseModel: b.base_model, hubUrl }
                : { kind: 'checkpoint', path: toEnginePath(b.model_path!), hubUrl },
            );
            service.addSampler({
              id: info.samplerId,
              sessionId: b.session_id,
              baseModel: info.baseModel,
              modelPath: b.model_path === undefined ? null : toTinkerPath(b.model_path),
              policyVersion: info.policyVersion,
              vocabSize: info.vocabSize,
              maxPositions: info.maxPositions,
              eosTokenIds: info.eosTokenIds,
            });
            return info.samplerId;
          },
        );
        return { type: 'create_sampling_session', sampling_session_id: id };
      },
    },
    {
      method: 'GET',
      pattern: api('samplers/([^/]+)'),
      handle: async (req) => {
        const s = service.sampler(req.params[0]!);
        return {
          sampler_id: s.id,
          base_model: s.baseModel,
          model_path: s.modelPath,
          policy_version: s.policyVersion,
        };
      },
    },
    {
      method: 'POST',
      pattern: api('asample'),
      schema: 'asample',
      handle: async (req) => {
        const b = req.body as SampleRequest;
        if (b.sampling_session_id === undefined)
          throw new HttpError(
            400,
            'asample needs sampling_session_id: create one with create_sampling_session first.',
          );
        const s = service.sampler(b.sampling_session_id);
        const id = service.once(`${s.id}#${b.seq_id ?? req.digest}`, req.digest, async () => {
          // A prompt may fill the context when only its log-probs are wanted (compute_logprobs is
          // a 1-token sample with prompt_logprobs): the engine answers with empty sequences.
          const scores = (b.prompt_logprobs ?? false) || (b.topk_prompt_logprobs ?? 0) > 0;
          const prompt = checkPrompt(b.prompt, {
            vocabSize: s.vocabSize,
            maxSeqLen: scores ? Infinity : s.maxPositions,
          });
          if (prompt.length > s.maxPositions)
            throw new ValidationError(
              `prompt has ${prompt.length} tokens; the model's context is ${s.maxPositions}. Shorten it.`,
            );
          const numSamples = b.num_samples ?? 1;
          if (numSamples < 1 || numSamples > 1024)
            throw new ValidationError(
              `num_samples must be an integer in [1, 1024], got ${numSamples}.`,
            );
          const params = new SamplingParams(b.sampling_params).toJSON();
          normaliseSamplingParams(params, { vocabSize: s.vocabSize, eosTokenIds: s.eosTokenIds });
          const result = await engine.sample({
            samplerId: s.id,
            prompt,
            numSamples,
            params,
            includePromptLogprobs: b.prompt_logprobs ?? false,
            topkPromptLogprobs: b.topk_prompt_logprobs ?? 0,
          });
          return sampleResponse(result);
        });
        return { request_id: id };
      },
    },
    {
      method: 'POST',
      pattern: api('loops_web/close_sampler'),
      schema: 'loops_web/close_sampler',
      handle: async (req) => {
        await service.dropSampler(
          (req.body as { sampling_session_id: string }).sampling_session_id,
        );
        return { status: 'closed' };
      },
    },
  ];
}
