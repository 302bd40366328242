/**
 * Chat prompts for the recipes: the prompt that asks for the next assistant turn, and the token
 * ids that end that turn. Shared by the examples (examples/lib/chat-datum.ts re-exports them) and
 * the lab's RL mode, so both sample from exactly the same prompts.
 */
import { ModelInput } from '../index';
import type { Tokenizer } from '../index';

export interface ChatTurn {
  readonly role: string;
  readonly content: string;
}

/** The ids that end an assistant turn: `<|im_end|>` when the vocabulary has it, and EOS. */
export function stopTokenIds(tokenizer: Tokenizer): number[] {
  const ids = [tokenizer.tokenToId('<|im_end|>'), tokenizer.eosTokenId];
  return [...new Set(ids.filter((id): id is number => typeof id === 'number'))];
}

/** The prompt that asks the model for the next assistant message after `messages`. */
export function generationPrompt(tokenizer: Tokenizer, messages: readonly ChatTurn[]): ModelInput {
  return ModelInput.from_ints(
    tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: true }),
  );
}
