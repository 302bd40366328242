/**
 * Chat conversations as model inputs, the job of the cookbook's renderer (loops-api-notes §9.5)
 * done with the tokenizer's own chat template:
 * - `conversationToDatum`: a supervised `Datum` that trains on the last assistant message only
 *   (`build_supervised_example` with LAST_ASSISTANT_MESSAGE, then the shift of §9.1): the tokens
 *   of the whole conversation, inputs = tokens[:-1], targets = tokens[1:], and every target that
 *   is still prompt masked with -100 and weight 0.
 * - `generationPrompt`: the conversation so far plus the assistant's turn header
 *   (`build_generation_prompt`).
 * - `stopTokenIds`: the end-of-turn and end-of-text ids (`get_stop_sequences`).
 * - `meanNll`: −Σ w·lp / Σ w over a batch (the cookbook's `compute_mean_nll`).
 * Browser-safe (no Node imports).
 */
import { Datum, ModelInput, ValidationError } from '../../src/index';
import type { ForwardBackwardOutput, Tokenizer } from '../../src/index';
import type { ChatMessage } from './jsonl';

// One definition for the examples and the lab (src/recipes/chat.ts).
import { generationPrompt, stopTokenIds } from '../../src/recipes/chat';
export { generationPrompt, stopTokenIds };

const IGNORE = -100;

/**
 * A cross-entropy `Datum` (`target_tokens`, `weights`) for a conversation ending with an
 * assistant message: only that message, up to and including its end-of-turn token, is trained.
 * Longer than `maxLength` tokens, it is cut at the end (as the cookbook truncates).
 */
export function conversationToDatum(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  maxLength: number,
): Datum {
  const last = messages[messages.length - 1];
  if (last?.role !== 'assistant') {
    throw new ValidationError(
      `conversationToDatum: the last message must be the assistant's, got ${JSON.stringify(last?.role)}.`,
    );
  }
  const prompt = generationPrompt(tokenizer, messages.slice(0, -1)).to_ints();
  const full = tokenizer.apply_chat_template(messages, { tokenize: true });
  if (!prompt.every((t, i) => full[i] === t)) {
    throw new ValidationError(
      'conversationToDatum: the chat template renders the prompt differently inside the full ' +
        'conversation, so the prompt cannot be masked by position; use a template whose ' +
        'generation prompt is a prefix of the conversation.',
    );
  }
  const completion = full.slice(prompt.length);
  const stops = stopTokenIds(tokenizer);
  const end = completion.findIndex((t) => stops.includes(t));
  const tokens = [...prompt, ...(end >= 0 ? completion.slice(0, end + 1) : completion)];
  const kept = tokens.slice(0, maxLength + 1);
  // Position i predicts token i + 1; it is trained when that token is past the prompt.
  const trained = (i: number) => i + 1 >= prompt.length;
  const inputs = kept.slice(0, -1);
  return new Datum({
    model_input: ModelInput.from_ints(inputs),
    loss_fn_inputs: {
      target_tokens: inputs.map((_, i) => (trained(i) ? (kept[i + 1] as number) : IGNORE)),
      weights: inputs.map((_, i) => (trained(i) ? 1 : 0)),
    },
  });
}

/** Σ over a batch of −lp·w, and Σ w, from a forward's outputs and the datums it ran on. */
export function weightedNll(
  out: ForwardBackwardOutput,
  batch: readonly Datum[],
): { nll: number; weight: number } {
  let nll = 0;
  let weight = 0;
  batch.forEach((datum, d) => {
    const lp = out.loss_fn_outputs[d]?.logprobs.data ?? [];
    const w = datum.loss_fn_inputs.weights?.data ?? [];
    w.forEach((wi, i) => {
      nll -= wi * (lp[i] ?? 0);
      weight += wi;
    });
  });
  return { nll, weight };
}

/** Mean NLL per trained token, −Σ w·lp / Σ w (nats). */
export function meanNll(out: ForwardBackwardOutput, batch: readonly Datum[]): number {
  const { nll, weight } = weightedNll(out, batch);
  return weight === 0 ? 0 : nll / weight;
}
