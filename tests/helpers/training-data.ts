// Small fixed batches for contract tests, over the fixture model's vocabulary.
import { Datum, ModelInput } from '../../src/index';

/** A datum of `n` input tokens with next-token targets; the first `masked` targets are -100. */
export function makeDatum(seed: number, n = 12, masked = 3): Datum {
  const tokens = Array.from({ length: n + 1 }, (_, i) => 3 + ((seed * 131 + i * 17) % 4000));
  const targets = tokens.slice(1).map((t, i) => (i < masked ? -100 : t));
  return new Datum({
    model_input: ModelInput.from_ints(tokens.slice(0, -1)),
    loss_fn_inputs: { target_tokens: targets },
  });
}

export const BATCHES: Datum[][] = Array.from({ length: 4 }, (_, b) => [
  makeDatum(b * 2 + 1),
  makeDatum(b * 2 + 2, 9, 2),
]);
