/**
 * Examples as token sequences with a "supervised" flag per token: the tokens the model learns to
 * produce. Prompts are masked, as supervised fine-tuning does (Tinker cookbook,
 * `build_supervised_example`, last assistant message):
 * - chat: the conversation through the tokenizer's chat template; only the last assistant message,
 *   up to and including its end-of-turn token, is supervised. Without a chat template (GPT-2) the
 *   turns are written as "User: …\nAssistant: …" and end with EOS.
 * - completion: prompt tokens (with the tokenizer's BOS), then the completion and EOS, supervised.
 * - text: every token after the first is supervised, and EOS ends the line.
 * Sequences longer than `maxLength + 1` tokens are cut at the end (the model sees `maxLength`
 * inputs: position i predicts token i + 1). Making Datums and batches is batching.ts's job.
 */
import type { ChatMessage, Example } from './dataset-parse';

/** What this module needs of a tokenizer (the public `Tokenizer` has it). */
export interface TokenizerLike {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skip_special_tokens?: boolean }): string;
  apply_chat_template(
    messages: readonly ChatMessage[],
    options: { add_generation_prompt?: boolean; tokenize: true },
  ): number[];
  tokenToId(token: string): number | undefined;
  readonly eosTokenId: number | null;
}

export interface TokenSequence {
  readonly tokens: readonly number[];
  /** Parallel to `tokens`: true where the token is a training target. */
  readonly supervised: readonly boolean[];
  /** The example was longer than maxLength + 1 tokens and was cut. */
  readonly truncated: boolean;
}

/** The ids that end an assistant turn: `<|im_end|>` when the vocabulary has it, and EOS. */
export function stopTokenIds(tokenizer: TokenizerLike): number[] {
  const ids = [tokenizer.tokenToId('<|im_end|>'), tokenizer.eosTokenId];
  return [...new Set(ids.filter((id): id is number => typeof id === 'number'))];
}

const templateKnown = new WeakMap<TokenizerLike, boolean>();

/** Whether the tokenizer renders chat templates (GPT-2's has none). */
export function hasChatTemplate(tokenizer: TokenizerLike): boolean {
  let known = templateKnown.get(tokenizer);
  if (known === undefined) {
    try {
      tokenizer.apply_chat_template([{ role: 'user', content: 'x' }], { tokenize: true });
      known = true;
    } catch {
      known = false;
    }
    templateKnown.set(tokenizer, known);
  }
  return known;
}

/** The prompt tokens that ask for an assistant reply to `question` (the "Try it" box). */
export function chatPromptTokens(tokenizer: TokenizerLike, question: string): number[] {
  const messages = [{ role: 'user', content: question }];
  if (hasChatTemplate(tokenizer)) {
    return tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: true });
  }
  return tokenizer.encode(plainChat(messages, true));
}

/** `example` as tokens with supervised flags, cut to `maxLength + 1` tokens. */
export function exampleToSequence(
  tokenizer: TokenizerLike,
  example: Example,
  maxLength: number,
): TokenSequence {
  const [prompt, answer] = split(tokenizer, example);
  const tokens = [...prompt, ...answer];
  const supervised = tokens.map((_, i) => i >= Math.max(prompt.length, 1));
  const keep = maxLength + 1;
  return {
    tokens: tokens.slice(0, keep),
    supervised: supervised.slice(0, keep),
    truncated: tokens.length > keep,
  };
}

/** [prompt tokens, supervised tokens] of one example. */
function split(tokenizer: TokenizerLike, example: Example): [number[], number[]] {
  const eos = tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId];
  if (example.kind === 'text') return [[], [...tokenizer.encode(example.text), ...eos]];
  if (example.kind === 'completion') {
    const prompt = tokenizer.encode(example.prompt);
    const answer = tokenizer.encode(example.completion, { add_special_tokens: false });
    return [prompt, [...answer, ...eos]];
  }
  return chatSplit(tokenizer, example.messages, eos);
}

function chatSplit(
  tokenizer: TokenizerLike,
  messages: readonly ChatMessage[],
  eos: number[],
): [number[], number[]] {
  const history = messages.slice(0, -1);
  if (!hasChatTemplate(tokenizer)) {
    const prompt = tokenizer.encode(plainChat(history, true));
    const reply = (messages[messages.length - 1] as ChatMessage).content;
    return [prompt, [...tokenizer.encode(` ${reply}`, { add_special_tokens: false }), ...eos]];
  }
  const prompt = tokenizer.apply_chat_template(history, {
    add_generation_prompt: true,
    tokenize: true,
  });
  const full = tokenizer.apply_chat_template(messages, { tokenize: true });
  if (!prompt.every((t, i) => full[i] === t)) {
    // The template renders the prompt differently inside the whole conversation: train on the
    // tokens after the longest shared prefix.
    let shared = 0;
    while (shared < prompt.length && full[shared] === prompt[shared]) shared++;
    return [full.slice(0, shared), full.slice(shared)];
  }
  const completion = full.slice(prompt.length);
  const stops = stopTokenIds(tokenizer);
  const end = completion.findIndex((t) => stops.includes(t));
  return [prompt, end >= 0 ? completion.slice(0, end + 1) : [...completion, ...eos]];
}

/** Chat turns as plain text for tokenizers without a template. */
function plainChat(messages: readonly ChatMessage[], generationPrompt: boolean): string {
  const turns = messages.map((m) => `${capitalise(m.role)}: ${m.content}\n`).join('');
  return generationPrompt ? `${turns}Assistant:` : turns;
}

function capitalise(role: string): string {
  return role.charAt(0).toUpperCase() + role.slice(1);
}

/** Counts over a set of sequences, for the data preview. */
export function sequenceStats(sequences: readonly TokenSequence[]): {
  tokens: number;
  supervised: number;
  truncated: number;
} {
  let tokens = 0;
  let supervised = 0;
  let truncated = 0;
  for (const s of sequences) {
    tokens += s.tokens.length;
    supervised += s.supervised.filter(Boolean).length;
    if (s.truncated) truncated++;
  }
  return { tokens, supervised, truncated };
}
