/**
 * Where the decode loop's tokens come from: each call runs the model one step (the first call
 * takes the prompt's logits from the prefill) and chooses a token for every running sequence.
 * This file is the page path: logits read back as a Float32Array and chosen by `chooseToken`,
 * sequence i drawing from random stream i of the seed (rng.ts). device-tokens.ts is the device
 * path. The decode loop (decode-loop.ts) decides which, schedules, and checks stops.
 */
import { chooseToken, type TokenChoice } from './choose-token';
import type { DecodeModel } from './decode-model';
import type { TokenChoiceParams } from '../core/sampling-params';
import { streamRng, type SeedWords } from './rng';

export interface TokenSource {
  /**
   * The next token of each sequence with `running[i]`, null for the others. From the second call
   * on, `last` (one per sequence) is fed to the model first; finished sequences are fed their own
   * last token as padding and their rows are ignored.
   */
  next(last: readonly number[], running: readonly boolean[]): Promise<(TokenChoice | null)[]>;
  /** Frees the model's session (the KV cache) and anything else the source holds. */
  dispose(): void;
}

/** The page path: prefill, then each step's [B, V] logits read back and chosen in JavaScript. */
export async function pageTokenSource(
  model: DecodeModel,
  prompt: readonly number[],
  batch: number,
  params: TokenChoiceParams,
  seed: SeedWords,
  maxNewTokens: number,
): Promise<TokenSource> {
  const rngs = Array.from({ length: batch }, (_, i) => streamRng(seed, i));
  const V = model.vocabSize;
  const { session, lastLogits } = await model.prefill(prompt, batch, maxNewTokens);
  let first: Float32Array | null = lastLogits;
  try {
    checkLength(lastLogits, V, 'prefill');
  } catch (error) {
    session.dispose();
    throw error;
  }
  return {
    async next(last, running) {
      let logits: Float32Array; // [B, V], or [V] shared by every sequence after the prefill
      let stride = V;
      if (first) {
        logits = first;
        stride = 0;
        first = null;
      } else {
        logits = await session.step(last);
        checkLength(logits, batch * V, 'step');
      }
      return running.map((on, i) =>
        on ? chooseToken(logits.subarray(i * stride, i * stride + V), params, rngs[i]!) : null,
      );
    },
    dispose: () => session.dispose(),
  };
}

function checkLength(logits: Float32Array, expected: number, where: string): void {
  if (logits.length !== expected) {
    throw new RangeError(
      `the model's ${where} returned ${logits.length} logits, expected ${expected}; ` +
        'the DecodeModel implementation does not match its vocabSize or batch.',
    );
  }
}
