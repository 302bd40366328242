/**
 * Times greedy KV-cached decoding through the real decode loop (`decode` over an `LmDecoder`):
 * the prompt's prefill once, then one `step` per generated token, each timed on its own by a thin
 * `DecodeModel` wrapper. EOS is not a stop here (random weights could draw it at any step), so
 * exactly `tokens` steps run. One short untimed decode first pays for first-call setup.
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
  /** KV-cached steps to time (tokens fed back); `tokens + 1` tokens are generated. */
  readonly tokens: number;
  readonly seed: number;
}

export interface DecodeResult {
  readonly prefillMs: number;
  readonly stepsMs: number[];
  readonly medianStepMs: number;
  /** 1000 / median step time: one sequence's decode rate. */
  readonly tokensPerSecond: number;
  readonly generated: number[];
}

/** Greedy decode of a random prompt on `model`, batch 1; leaves no tensors behind. */
export async function measureDecode(
  model: CausalLM,
  options: DecodeOptions,
): Promise<DecodeResult> {
  const prompt = randomTokens(options.promptLength, model.config.vocabSize, options.seed);
  const timedModel = new TimedDecodeModel(new LmDecoder(model));
  const run = (maxTokens: number) => {
    const params = normaliseSamplingParams(
      { temperature: 0, max_tokens: maxTokens },
      { vocabSize: model.config.vocabSize, eosTokenIds: [] },
    );
    return decode(timedModel, prompt, 1, params, () => '');
  };
  await run(2); // warm-up: a prefill and one step
  timedModel.reset();
  const [sequence] = await run(options.tokens + 1);
  const medianStepMs = median(timedModel.stepsMs);
  return {
    prefillMs: timedModel.prefillMs,
    stepsMs: [...timedModel.stepsMs],
    medianStepMs,
    tokensPerSecond: 1000 / medianStepMs,
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
