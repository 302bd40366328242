/**
 * The batched decode loop: prefill the prompt once for `numSamples` copies, then step every
 * sequence together, one token per step, each stopping on its own stop, EOS or length limit.
 * Token choice is `chooseToken`, stops are `StopDetector`, the model is a `DecodeModel`; this
 * module only schedules them and never touches tensors.
 *
 * Positions: a prompt of P tokens leaves room for G = maxPositions − P generated tokens, and the
 * limit is min(max_tokens, G) (max_tokens unset = G). The g-th token is drawn from the logits of
 * the (g−1)-th, so g tokens cost one prefill and g − 1 steps, and the last token is never fed back:
 * the model never sees more than maxPositions − 1 positions. A prompt that leaves no room is a
 * ValidationError before anything runs; a request that only wants such a prompt scored gets empty
 * sequences from `sequencesWithNoRoom` instead (the sampler decides which).
 *
 * Batching: a sequence that has finished keeps its slot; it is fed padding and its logits row is
 * ignored, so the batch shape never changes. Sequence i draws from random stream i of the seed
 * (rng.ts), so its tokens do not depend on numSamples.
 *
 * Where tokens are chosen (token-source.ts): on the page, from logits read back each step; or, on
 * webgpu with our kernels and a model that offers `prefillOnDevice`, on the device, reading back
 * only the chosen ids and log-probs (device-tokens.ts). Same seeds, same tokens (up to float32
 * rounding, sample-rows.ts); stops are checked here from the ids either way.
 *
 * `onToken` sees each token as it is drawn. A string stop can later trim tokens it has already
 * seen (stop.ts), so streamed tokens are a superset of the final `tokens`.
 */
import { ValidationError } from '../errors/loops-errors';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import type { TokenChoice } from './choose-token';
import type { DecodeModel } from './decode-model';
import type { DecodeParams } from '../core/sampling-params';
import { deviceTokenSource } from './device-tokens';
import { seedWords } from './rng';
import { StopDetector } from './stop';
import { pageTokenSource, type TokenSource } from './token-source';

export interface DecodedSequence {
  /** Generated ids only; a token-id stop (or EOS) is the last entry, a stop string is trimmed. */
  tokens: number[];
  /** log_softmax of the raw logits at each returned token (choose-token.ts). */
  logprobs: number[];
  stop_reason: 'stop' | 'length';
}

type TextDecoderFn = (ids: readonly number[]) => string;

/** One sequence while it runs. */
class Running {
  readonly tokens: number[] = [];
  readonly logprobs: number[] = [];
  stopReason: 'stop' | 'length' | null = null;

  constructor(readonly stops: StopDetector) {}

  get running(): boolean {
    return this.stopReason === null;
  }

  get last(): number {
    return this.tokens[this.tokens.length - 1] as number;
  }
}

/** Samples `numSamples` continuations of `prompt`; always disposes the model's session. */
export async function decode(
  model: DecodeModel,
  prompt: readonly number[],
  numSamples: number,
  params: DecodeParams,
  decodeText: TextDecoderFn,
  onToken?: (seq: number, token: number) => void,
): Promise<DecodedSequence[]> {
  const limit = checkInputs(model, prompt, numSamples, params);
  const seqs = Array.from(
    { length: numSamples },
    () => new Running(new StopDetector(params, decodeText)),
  );
  const source = await openTokenSource(model, prompt, numSamples, params, limit);
  try {
    while (seqs.some((s) => s.running)) {
      const choices = await source.next(
        seqs.map((s) => s.last),
        seqs.map((s) => s.running),
      );
      seqs.forEach((s, i) => {
        const choice = choices[i];
        if (s.running && choice) record(s, i, choice, limit, onToken);
      });
    }
  } finally {
    source.dispose();
  }
  return seqs.map((s) => ({
    tokens: s.tokens,
    logprobs: s.logprobs,
    stop_reason: s.stopReason ?? 'length',
  }));
}

/** The device path when our webgpu kernels are on and the model offers it, else the page path. */
function openTokenSource(
  model: DecodeModel,
  prompt: readonly number[],
  batch: number,
  params: DecodeParams,
  limit: number,
): Promise<TokenSource> {
  const seed = seedWords(params.seed);
  if (model.prefillOnDevice && gpuKernelsActive()) {
    return Promise.resolve(deviceTokenSource(model, prompt, batch, params, seed, limit));
  }
  return pageTokenSource(model, prompt, batch, params, seed, limit);
}

/** Records sequence `i`'s new token and how it may end. */
function record(
  s: Running,
  i: number,
  { token, logprob }: TokenChoice,
  limit: number,
  onToken: ((seq: number, token: number) => void) | undefined,
): void {
  s.tokens.push(token);
  s.logprobs.push(logprob);
  onToken?.(i, token);
  const hit = s.stops.push(token);
  if (hit?.kind === 'string') {
    s.tokens.length = hit.keepTokens;
    s.logprobs.length = hit.keepTokens;
  }
  if (hit) s.stopReason = 'stop';
  else if (s.tokens.length >= limit) s.stopReason = 'length';
}

/**
 * The sequences of a request whose prompt fills the context (P = maxPositions) and that only wants
 * the prompt scored (prompt logprobs): nothing fits after the prompt, so each of the `numSamples`
 * is empty and stopped on length. The prompt gets `decode`'s checks, less the room to generate.
 */
export function sequencesWithNoRoom(
  model: Pick<DecodeModel, 'vocabSize' | 'maxPositions'>,
  prompt: readonly number[],
  numSamples: number,
): DecodedSequence[] {
  checkPromptAndCount(model, prompt, numSamples);
  if (prompt.length !== model.maxPositions) {
    throw new RangeError(
      `sequencesWithNoRoom: the prompt has ${prompt.length} tokens, not the context's ${model.maxPositions}.`,
    );
  }
  return Array.from({ length: numSamples }, () => ({
    tokens: [],
    logprobs: [],
    stop_reason: 'length' as const,
  }));
}

/** Validates the call; returns how many tokens each sequence may generate. */
function checkInputs(
  model: DecodeModel,
  prompt: readonly number[],
  numSamples: number,
  params: DecodeParams,
): number {
  checkPromptAndCount(model, prompt, numSamples);
  const room = model.maxPositions - prompt.length;
  if (room < 1) {
    throw new ValidationError(
      `prompt has ${prompt.length} tokens and the model allows ${model.maxPositions} positions, ` +
        `leaving no room to generate; shorten the prompt to at most ${model.maxPositions - 1} tokens.`,
    );
  }
  return params.maxTokens === null ? room : Math.min(params.maxTokens, room);
}

/** num_samples ≥ 1, and a prompt of at least one token, each in the vocabulary. */
function checkPromptAndCount(
  model: Pick<DecodeModel, 'vocabSize'>,
  prompt: readonly number[],
  numSamples: number,
): void {
  if (!Number.isInteger(numSamples) || numSamples < 1) {
    throw new ValidationError(`num_samples is ${numSamples}; it must be an integer ≥ 1.`);
  }
  if (prompt.length === 0) {
    throw new ValidationError(
      'prompt is empty; sampling needs at least one token to condition on (for example the BOS token).',
    );
  }
  prompt.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
      throw new ValidationError(
        `prompt token ${i} is ${id}; token ids must be integers in [0, ${model.vocabSize}).`,
      );
    }
  });
}
