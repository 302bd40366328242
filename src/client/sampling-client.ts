/**
 * `SamplingClient`: samples from a base model, or from an adapter snapshot pinned to the policy
 * version it was taken at. shared/LOOPS_API.md, "SamplingClient".
 */
import { ValidationError } from '../errors/loops-errors';
import { normaliseSamplingParams } from '../core/sampling-params';
import { TextTokenizer } from '../core/tokenizer';
import type { SampleResult } from '../protocol/responses';
import type { CreateSamplerRequest, SamplerInfo } from '../protocol/wire-types';
import { parseArgs } from './args';
import type { EngineLink } from './engine-link';
import { OperationFuture, submitted } from './future';
import { describe } from './describe';
import { checkPrompt } from './validate';
import { SamplingParams } from './types/params';

export class SamplingClient {
  private tokenizer: TextTokenizer | null = null;
  private closed = false;

  private constructor(
    private readonly link: EngineLink,
    readonly info: SamplerInfo,
  ) {}

  /** @internal Made by `ServiceClient` and `TrainingClient`. */
  static async create(link: EngineLink, request: CreateSamplerRequest): Promise<SamplingClient> {
    return new SamplingClient(link, await link.engine.createSampler(request));
  }

  /** The policy version of the weights this client samples from (0 for a base model). */
  get policy_version(): number {
    return this.info.policyVersion;
  }

  /** The sampler checkpoint path, when the snapshot was saved under a name. */
  get model_path(): string | null {
    return this.info.path;
  }

  /** `num_samples` completions of `prompt`, decoded as one batch with a KV cache. */
  sample(...args: unknown[]): OperationFuture<SampleResult> {
    const a = parseArgs(
      'sample',
      [
        'prompt',
        'num_samples',
        'sampling_params',
        'include_prompt_logprobs',
        'topk_prompt_logprobs',
      ],
      args,
    );
    const limits = { vocabSize: this.info.vocabSize, maxSeqLen: this.info.maxPositions };
    const prompt = checkPrompt(a.prompt, limits);
    const numSamples = a.num_samples ?? 1;
    if (
      typeof numSamples !== 'number' ||
      !Number.isInteger(numSamples) ||
      numSamples < 1 ||
      numSamples > 1024
    ) {
      throw new ValidationError(
        `num_samples must be an integer in [1, 1024], got ${describe(numSamples)}.`,
      );
    }
    const params = new SamplingParams(
      (a.sampling_params ?? {}) as Partial<SamplingParams>,
    ).toJSON();
    normaliseSamplingParams(params, {
      vocabSize: this.info.vocabSize,
      eosTokenIds: this.info.eosTokenIds,
    });
    const includePrompt = a.include_prompt_logprobs ?? false;
    if (typeof includePrompt !== 'boolean') {
      throw new ValidationError(
        `include_prompt_logprobs must be true or false, got ${describe(includePrompt)}.`,
      );
    }
    const topk = a.topk_prompt_logprobs ?? 0;
    if (typeof topk !== 'number' || !Number.isInteger(topk) || topk < 0) {
      throw new ValidationError(
        `topk_prompt_logprobs must be an integer ≥ 0, got ${describe(topk)}.`,
      );
    }
    this.checkOpen();
    const request = {
      samplerId: this.info.samplerId,
      prompt,
      numSamples,
      params,
      includePromptLogprobs: includePrompt,
      topkPromptLogprobs: topk,
    };
    return new OperationFuture(
      this.link.engine.sample(this.link.transfer(request, [prompt.buffer])),
    );
  }

  sample_async(...args: unknown[]) {
    return submitted(this.sample(...args));
  }

  /**
   * Log-prob of each prompt token given the ones before it; entry 0 is null. One forward over the
   * prompt, which may fill the whole context (nothing is generated).
   */
  compute_logprobs(...args: unknown[]): OperationFuture<(number | null)[]> {
    const a = parseArgs('compute_logprobs', ['prompt'], args);
    // checkPrompt leaves room to generate (length < maxSeqLen); scoring needs none.
    const limits = { vocabSize: this.info.vocabSize, maxSeqLen: this.info.maxPositions + 1 };
    const prompt = checkPrompt(a.prompt, limits);
    this.checkOpen();
    const result = this.link.engine.computeLogprobs(
      this.info.samplerId,
      this.link.transfer(prompt, [prompt.buffer]),
    );
    return new OperationFuture(result);
  }

  compute_logprobs_async(...args: unknown[]) {
    return submitted(this.compute_logprobs(...args));
  }

  async get_tokenizer(...args: unknown[]): Promise<TextTokenizer> {
    parseArgs('get_tokenizer', [], args); // no parameters: an argument is a mistake
    this.tokenizer ??= TextTokenizer.fromJson(
      this.info.tokenizer.tokenizerJson,
      this.info.tokenizer.tokenizerConfig,
    );
    return this.tokenizer;
  }

  get_base_model(...args: unknown[]): string {
    parseArgs('get_base_model', [], args); // no parameters: an argument is a mistake
    return this.info.baseModel;
  }

  /** Frees the adapter snapshot in the engine. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.link.engine.closeSampler(this.info.samplerId);
  }

  private checkOpen(): void {
    if (this.closed) throw new ValidationError('this SamplingClient is closed; create a new one.');
  }
}
