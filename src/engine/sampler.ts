/**
 * A sampler: the base model with a frozen adapter snapshot (or none), pinned to the policy version
 * it was taken at. Sampling decodes `num_samples` sequences as one batch with a KV cache.
 */
import type { TextTokenizer } from '../core/tokenizer';
import { ValidationError } from '../errors/loops-errors';
import type { LoraAdapter } from '../lora/adapter';
import { CausalLM } from '../model/causal-lm';
import type { ModelConfig } from '../model/config';
import { LmDecoder } from '../model/lm-decoder';
import { promptLogprobs, scorePrompt } from '../model/prompt-scoring';
import { decode, sequencesWithNoRoom } from '../sampling/decode-loop';
import { normaliseSamplingParams } from '../core/sampling-params';
import type { SampleRequest, WireSampleResult } from '../protocol/wire-types';
import type { LoadedModel } from './model-registry';

/**
 * A sample request whose prompt fills the context (no room to generate) and that asks for the
 * prompt's log-probs: it is answered with those and empty sequences (stop_reason 'length') rather
 * than refused, as Tinker's compute_logprobs is a 1-token sample with prompt_logprobs
 * (docs/API.md). Without prompt log-probs such a prompt stays a ValidationError (decode-loop.ts).
 */
export function onlyScoresFullPrompt(config: ModelConfig, request: SampleRequest): boolean {
  const scores = request.includePromptLogprobs || request.topkPromptLogprobs > 0;
  return scores && request.prompt.length === config.maxPositions;
}

export class Sampler {
  readonly model: CausalLM;

  constructor(
    readonly id: string,
    readonly base: LoadedModel,
    readonly adapter: LoraAdapter | null,
    readonly policyVersion: number,
    private readonly tokenizer: TextTokenizer,
  ) {
    this.model = new CausalLM(base.config, base.weights, adapter);
  }

  async sample(request: SampleRequest): Promise<WireSampleResult> {
    const prompt = Array.from(request.prompt);
    const params = normaliseSamplingParams(request.params, {
      vocabSize: this.base.config.vocabSize,
      eosTokenIds: this.base.config.eosTokenIds,
    });
    const sequences = onlyScoresFullPrompt(this.base.config, request)
      ? sequencesWithNoRoom(this.base.config, prompt, request.numSamples)
      : await decode(new LmDecoder(this.model), prompt, request.numSamples, params, (ids) =>
          this.tokenizer.decode(ids),
        );
    const scores = await scorePrompt(this.model, prompt, {
      logprobs: request.includePromptLogprobs,
      topk: request.topkPromptLogprobs,
    });
    return {
      sequences,
      policy_version: this.policyVersion,
      prompt_logprobs: scores.logprobs,
      topk_prompt_logprobs: scores.topk,
    };
  }

  /**
   * `compute_logprobs`: one forward over the prompt, which may fill the whole context (nothing is
   * generated after it).
   */
  async computeLogprobs(prompt: Int32Array): Promise<(number | null)[]> {
    const T = prompt.length;
    const max = this.base.config.maxPositions;
    if (T === 0 || T > max) {
      throw new ValidationError(
        `compute_logprobs: the prompt has ${T} tokens; it needs 1 to ${max} (the model's context).`,
      );
    }
    const V = this.base.config.vocabSize;
    const bad = prompt.findIndex((t) => t < 0 || t >= V);
    if (bad >= 0) {
      throw new ValidationError(
        `compute_logprobs: prompt token ${prompt[bad]} at position ${bad} is outside the vocabulary [0, ${V}).`,
      );
    }
    return promptLogprobs(this.model, Array.from(prompt));
  }

  dispose(): void {
    this.adapter?.dispose();
  }
}
