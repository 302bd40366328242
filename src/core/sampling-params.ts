/**
 * Sampling parameters as the sampler uses them: the Loops `SamplingParams` (snake_case, as sent by
 * the facade or parsed from Python's JSON) checked once and turned into a frozen camelCase object.
 * Every rule is enforced here, so `chooseToken`, the stop detector and the decode loop trust their
 * inputs. Unknown keys are the facade's business (it owns the public `SamplingParams` class).
 *
 * Defaults (shared/LOOPS_API.md, "SamplingParams"; Tinker's defaults):
 * - `max_tokens`: none, i.e. until a stop or the end of the model's context;
 * - `temperature` 1.0 (0 = greedy argmax), `top_p` 1.0 (off), `top_k` -1 (off);
 * - `seed`: none, i.e. a fresh random seed per call (crypto.getRandomValues);
 * - `stop`: none. A string, an array of strings or an array of token ids.
 *
 * The model's end-of-sequence ids always end generation, as a token-id stop does: the EOS token is
 * the last entry of `tokens` and `stop_reason` is 'stop'. There is no switch to ignore EOS.
 */
import { ValidationError } from '../errors/loops-errors';

/** The Loops `SamplingParams` fields, as a plain object; `null` is Python's `None`. */
export interface SamplingParamsInput {
  readonly max_tokens?: number | null;
  readonly temperature?: number | null;
  readonly top_p?: number | null;
  readonly top_k?: number | null;
  readonly seed?: number | null;
  readonly stop?: string | readonly string[] | readonly number[] | null;
}

/** Loops' defaults (shared/LOOPS_API.md, `SamplingParams`; Tinker's): the one source of them. */
export const SAMPLING_DEFAULTS = Object.freeze({
  max_tokens: null,
  temperature: 1.0,
  top_p: 1.0,
  top_k: -1,
  seed: null,
  stop: null,
} as const satisfies Required<SamplingParamsInput>);

/** What the chooser needs: the shape of the distribution a token is drawn from. */
export interface TokenChoiceParams {
  /** Divides the logits before softmax; 0 means greedy (argmax, lowest id on ties). */
  readonly temperature: number;
  /** Keep the k most likely tokens; -1 = off. Never above the vocabulary size. */
  readonly topK: number;
  /** Keep the smallest most-likely set whose probability reaches this; 1 = off. In (0, 1]. */
  readonly topP: number;
}

/** Normalised, validated and frozen sampling parameters. */
export interface DecodeParams extends TokenChoiceParams {
  /** Most tokens to generate; null = until a stop or the context end. At least 1. */
  readonly maxTokens: number | null;
  /** Any finite integer; null = draw a random seed per call. */
  readonly seed: number | null;
  /** Non-empty strings; generation ends once the decoded text contains one (not returned). */
  readonly stopStrings: readonly string[];
  /** The user's token-id stops and the model's EOS ids, sorted, unique; returned when hit. */
  readonly stopTokenIds: readonly number[];
}

/** What the model tells the normaliser. */
export interface ModelVocab {
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
}

/** Checks `p` against the model's vocabulary; throws `ValidationError` naming the field and the fix. */
export function normaliseSamplingParams(
  p: SamplingParamsInput | null | undefined,
  vocab: ModelVocab,
): DecodeParams {
  const { vocabSize, eosTokenIds } = vocab;
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new ValidationError(`vocabSize is ${vocabSize}; it must be a positive integer.`);
  }
  const raw = p ?? {};
  const stop = parseStop(raw.stop, vocabSize);
  for (const id of eosTokenIds) checkTokenId(id, vocabSize, 'the model’s eos_token_id');
  const stopTokenIds = [...new Set([...stop.tokenIds, ...eosTokenIds])].sort((a, b) => a - b);
  return Object.freeze({
    maxTokens: parseMaxTokens(raw.max_tokens),
    temperature: parseTemperature(raw.temperature),
    topP: parseTopP(raw.top_p),
    topK: parseTopK(raw.top_k, vocabSize),
    seed: parseSeed(raw.seed),
    stopStrings: Object.freeze(stop.strings),
    stopTokenIds: Object.freeze(stopTokenIds),
  });
}

function parseMaxTokens(v: number | null | undefined): number | null {
  if (v === undefined || v === null) return SAMPLING_DEFAULTS.max_tokens;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ValidationError(
      `sampling_params.max_tokens is ${show(v)}; it must be an integer ≥ 1, or None to run until a stop or the context end.`,
    );
  }
  return v;
}

function parseTemperature(v: number | null | undefined): number {
  if (v === undefined || v === null) return SAMPLING_DEFAULTS.temperature;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new ValidationError(
      `sampling_params.temperature is ${show(v)}; it must be a finite number ≥ 0 (0 = greedy, 1 = the model's distribution).`,
    );
  }
  return v;
}

function parseTopP(v: number | null | undefined): number {
  if (v === undefined || v === null) return SAMPLING_DEFAULTS.top_p;
  if (typeof v !== 'number' || !(v > 0 && v <= 1)) {
    throw new ValidationError(
      `sampling_params.top_p is ${show(v)}; it must be in (0, 1] (1 = off).`,
    );
  }
  return v;
}

function parseTopK(v: number | null | undefined, vocabSize: number): number {
  if (v === undefined || v === null) return SAMPLING_DEFAULTS.top_k;
  if (typeof v !== 'number' || !Number.isInteger(v) || v === 0 || v < -1) {
    throw new ValidationError(
      `sampling_params.top_k is ${show(v)}; it must be -1 (off) or an integer ≥ 1.`,
    );
  }
  // Keeping more tokens than exist keeps them all: the same as off.
  return v === -1 || v >= vocabSize ? -1 : v;
}

function parseSeed(v: number | null | undefined): number | null {
  if (v === undefined || v === null) return SAMPLING_DEFAULTS.seed;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new ValidationError(
      `sampling_params.seed is ${show(v)}; it must be an integer, or None for a random seed.`,
    );
  }
  return v;
}

function parseStop(
  v: SamplingParamsInput['stop'],
  vocabSize: number,
): { strings: string[]; tokenIds: number[] } {
  if (v === undefined || v === null) return { strings: [], tokenIds: [] };
  const list: readonly unknown[] = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [v];
  if (list.every((s) => typeof s === 'string')) {
    const strings = list as string[];
    strings.forEach((s, i) => {
      if (s.length === 0) {
        throw new ValidationError(
          `sampling_params.stop[${i}] is an empty string; every stop string needs at least one character.`,
        );
      }
    });
    return { strings: [...new Set(strings)], tokenIds: [] };
  }
  if (list.every((s) => typeof s === 'number')) {
    const ids = list as number[];
    ids.forEach((id, i) => checkTokenId(id, vocabSize, `sampling_params.stop[${i}]`));
    return { strings: [], tokenIds: ids };
  }
  throw new ValidationError(
    `sampling_params.stop is ${show(v)}; it must be a string, a list of strings or a list of token ids (not a mix).`,
  );
}

function checkTokenId(id: number, vocabSize: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new ValidationError(
      `${what} is ${show(id)}; a token id must be an integer in [0, ${vocabSize}) for this model's vocabulary.`,
    );
  }
}

function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
