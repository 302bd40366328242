/**
 * Times decoding through the real decode loop (`decode`) over a `DecodeModel`: the engine's
 * KV-cached `LmDecoder`, or any other (the naive no-cache baseline). The prompt's prefill once,
 * then one `step` per generated token for all `samples` sequences together, each timed on its own
 * by a thin wrapper. Sampling at temperature 1 with a fixed seed (greedy decoding of random
 * weights repeats one token); EOS is not a stop here, so exactly `tokens` steps run. One short
 * untimed decode first pays for first-call setup.
 */
import type { CausalLM } from '../../src/model/causal-lm';
import { LmDecoder } from '../../src/model/lm-decoder';
import { decode } from '../../src/sampling/decode-loop';
import type { DecodeModel, DecodeSession } from '../../src/sampling/decode-model';
import { normaliseSamplingParams } from '../../src/core/sampling-params';
import { randomTokens } from './lora-step';
import { median } from './timing';

export interface DecodeOptions {
  readonly promptLength: number;
  /** Sequences decoded together (num_samples). */
  readonly samples: number;
  /** The decoder to time; the engine's KV-cached one when absent. */
  readonly decoder?: DecodeModel;
  /** KV-cached steps to time (tokens fed back); `tokens + 1` tokens are generated. */
  readonly tokens: number;
  readonly seed: number;
}

export interface DecodeResult {
  readonly samples: number;
  readonly promptLength: number;
  readonly prefillMs: number;
  /** promptLength / prefillMs (the prompt runs once, batch 1, then is shared by the samples). */
  readonly prefillTokensPerSecond: number;
  readonly stepsMs: number[];
  readonly medianStepMs: number;
  /** samples · 1000 / median step time: tokens generated per second over all sequences. */
  readonly tokensPerSecond: number;
  /** Σ of the step times: the whole decode after the prefill. */
  readonly totalStepsMs: number;
  readonly generated: number[];
}

/** Decodes a random prompt on `model`; leaves no tensors behind. */
export async function measureDecode(
  model: CausalLM,
  options: DecodeOptions,
): Promise<DecodeResult> {
  const prompt = randomTokens(options.promptLength, model.config.vocabSize, options.seed);
  const timedModel = new TimedDecodeModel(options.decoder ?? new LmDecoder(model));
  const run = (maxTokens: number) => {
    const params = normaliseSamplingParams(
      { temperature: 1, max_tokens: maxTokens, seed: options.seed },
      { vocabSize: model.config.vocabSize, eosTokenIds: [] },
    );
    return decode(timedModel, prompt, options.samples, params, () => '');
  };
  await run(2); // warm-up: a prefill and one step
  timedModel.reset();
  const [sequence] = await run(options.tokens + 1);
  const medianStepMs = median(timedModel.stepsMs);
  const { prefillMs, stepsMs } = timedModel;
  return {
    samples: options.samples,
    promptLength: options.promptLength,
    prefillMs,
    prefillTokensPerSecond: options.promptLength / (prefillMs / 1000),
    stepsMs: [...stepsMs],
    medianStepMs,
    tokensPerSecond: (options.samples * 1000) / medianStepMs,
    totalStepsMs: stepsMs.reduce((a, b) => a + b, 0),
    generated: sequence?.tokens ?? [],
  };
}

/** A `DecodeModel` that times its inner model's prefill and every step. */
class TimedDecodeModel implements DecodeModel {
  prefillMs = Number.NaN;
  stepsMs: number[] = [];

  constructor(private readonly inner: DecodeModel) {}

  get vocabSize(): number {
    return this.inner.vocabSize;
  }

  get maxPositions(): number {
    return this.inner.maxPositions;
  }

  reset(): void {
    this.prefillMs = Number.NaN;
    this.stepsMs = [];
  }

  async prefill(prompt: readonly number[], batch: number) {
    const t0 = performance.now();
    const out = await this.inner.prefill(prompt, batch);
    this.prefillMs = performance.now() - t0;
    const steps = this.stepsMs;
    const session: DecodeSession = {
      batch: out.session.batch,
      step: async (tokens) => {
        const t1 = performance.now();
        const logits = await out.session.step(tokens);
        steps.push(performance.now() - t1);
        return logits;
      },
      dispose: () => out.session.dispose(),
    };
    return { session, lastLogits: out.lastLogits };
  }
}
