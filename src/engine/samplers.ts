/**
 * The engine's samplers: a base model with no adapter, a snapshot of a run's adapter pinned to its
 * policy version, or an adapter read from a sampler checkpoint. Each sampler has its own slot in
 * the ordered queue, so its requests run one at a time and in order. Decoding itself is
 * sampler.ts.
 */
import { TextTokenizer } from '../core/tokenizer';
import { ValidationError } from '../errors/loops-errors';
import { LoraAdapter } from '../lora/adapter';
import type { ModelConfig } from '../model/config';
import type {
  CreateSamplerRequest,
  SampleRequest,
  SamplerInfo,
  WireSampleResult,
} from '../protocol/wire-types';
import { guardDevice } from '../runtime/device-lost';
import { randomId, restoreAdapter } from './checkpoints';
import type { EngineContext } from './engine-context';
import { promptForwardBytes, samplingBytes, topkPromptBytes } from './memory-budget';
import type { LoadedModel } from './model-registry';
import { modelFacts } from './model-facts';
import type { Runs } from './runs';
import { Sampler, onlyScoresFullPrompt } from './sampler';

export class Samplers {
  private readonly samplers = new Map<string, Sampler>();
  private readonly tokenizers = new Map<string, TextTokenizer>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly runs: Runs,
  ) {}

  async create(request: CreateSamplerRequest): Promise<SamplerInfo> {
    this.ctx.ready();
    if (request.kind === 'run') {
      const snap = await this.runs.snapshot(request.runId, request.name);
      return this.add(snap.base, snap.adapter, snap.version, snap.path);
    }
    if (request.kind === 'base') {
      const base = await this.ctx.registry.acquire(request.baseModel, request.hubUrl);
      return this.add(base, null, 0, null);
    }
    const stored = await this.ctx.checkpoints().get(request.path);
    const base = await this.ctx.registry.acquire(stored.meta.base_model, request.hubUrl);
    try {
      const restored = restoreAdapter(stored, base.config);
      const adapter = LoraAdapter.fromArrays(base.config, restored.config, restored.factors);
      return this.add(base, adapter, stored.meta.step, stored.meta.path);
    } catch (error) {
      await this.ctx.registry.release(base.name);
      throw error;
    }
  }

  sample(request: SampleRequest): Promise<WireSampleResult> {
    return this.on(request.samplerId, (sampler) => {
      this.checkSampleMemory(sampler.base.config, request);
      return sampler.sample(request);
    });
  }

  computeLogprobs(samplerId: string, prompt: Int32Array): Promise<(number | null)[]> {
    return this.on(samplerId, (sampler) => {
      this.ctx.checkMemory(
        'compute_logprobs',
        promptForwardBytes(sampler.base.config, prompt.length),
        'score a shorter prompt.',
      );
      return sampler.computeLogprobs(prompt);
    });
  }

  async close(samplerId: string): Promise<void> {
    const sampler = this.samplers.get(samplerId);
    if (!sampler) return;
    await this.ctx.queue.drain(queueKey(samplerId));
    this.samplers.delete(samplerId);
    sampler.dispose();
    await this.ctx.registry.release(sampler.base.name);
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.samplers.keys()]) await this.close(id);
  }

  /**
   * The KV cache of num_samples × (prompt + generated − 1) positions (the last token is never fed
   * back), or the prompt's forward alone when a full prompt is only scored, and the top-k pairs
   * must each fit the memory budget (memory-budget.ts).
   */
  private checkSampleMemory(config: ModelConfig, request: SampleRequest): void {
    const P = request.prompt.length;
    if (onlyScoresFullPrompt(config, request)) {
      // Nothing is generated (sampler.ts): no KV cache, only the prompt's forward.
      this.ctx.checkMemory('sample', promptForwardBytes(config, P), 'score a shorter prompt.');
    } else {
      this.checkKvCacheMemory(config, request);
    }
    if (request.topkPromptLogprobs > 0) {
      this.ctx.checkMemory(
        'sample',
        topkPromptBytes(config, P, request.topkPromptLogprobs),
        'ask for fewer topk_prompt_logprobs, or score a shorter prompt.',
      );
    }
  }

  private checkKvCacheMemory(config: ModelConfig, request: SampleRequest): void {
    const P = request.prompt.length;
    const room = Math.max(1, config.maxPositions - P);
    const generated = Math.min(request.params.max_tokens ?? room, room);
    this.ctx.checkMemory(
      'sample',
      samplingBytes(config, request.numSamples, P, P + generated - 1),
      'use fewer num_samples or a smaller max_tokens (or several sample calls).',
    );
  }

  /** Runs `op` in the sampler's queue slot; an unknown sampler rejects at once. */
  private on<T>(samplerId: string, op: (sampler: Sampler) => Promise<T>): Promise<T> {
    const sampler = this.samplers.get(samplerId);
    if (!sampler)
      return Promise.reject(
        new ValidationError(
          `sampler ${samplerId} is closed or unknown; create a new SamplingClient.`,
        ),
      );
    return this.ctx.queue.submit(queueKey(sampler.id), () => guardDevice(() => op(sampler)));
  }

  private add(
    base: LoadedModel,
    adapter: LoraAdapter | null,
    version: number,
    path: string | null,
  ): SamplerInfo {
    const sampler = new Sampler(randomId(), base, adapter, version, this.tokenizer(base));
    this.samplers.set(sampler.id, sampler);
    return { ...modelFacts(base), samplerId: sampler.id, policyVersion: version, path };
  }

  private tokenizer(base: LoadedModel): TextTokenizer {
    let tok = this.tokenizers.get(base.name) ?? base.textTokenizer;
    if (!tok) {
      tok = TextTokenizer.fromJson(base.tokenizer.tokenizerJson, base.tokenizer.tokenizerConfig);
      this.tokenizers.set(base.name, tok);
    }
    return tok;
  }
}

function queueKey(samplerId: string): string {
  return `sampler:${samplerId}`;
}
