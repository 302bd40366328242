/**
 * The programmatic reward of the RL demo task (public/datasets/whale-sentences.prompts.jsonl):
 * "write a sentence that mentions the whale and ends with a period".
 *
 *   r = ½·[mentions a whale] + ½·[ends with a period]
 *
 * so 1 when both hold, ½ for exactly one, 0 for neither. The completion is the decoded text with
 * special tokens removed (`<|im_end|>`, `<|endoftext|>`) and surrounding whitespace trimmed.
 * - mentions a whale: the letters "whale" appear in any case, so "Whale", "whales", "whaleman"
 *   and "whalebone" count; "whaling" does not.
 * - ends with a period: the trimmed text's last character is "." (not "!", "?" or "…").
 * Browser-safe (no Node imports).
 */

export interface RewardParts {
  readonly mentionsWhale: boolean;
  readonly endsWithPeriod: boolean;
  readonly reward: number;
}

/** The reward and its two parts for one completion. */
export function scoreWhaleSentence(completion: string): RewardParts {
  const text = completion.trim();
  const mentionsWhale = /whale/i.test(text);
  const endsWithPeriod = text.endsWith('.');
  return {
    mentionsWhale,
    endsWithPeriod,
    reward: 0.5 * Number(mentionsWhale) + 0.5 * Number(endsWithPeriod),
  };
}

/** The reward alone: 1, 0.5 or 0. */
export function whaleSentenceReward(completion: string): number {
  return scoreWhaleSentence(completion).reward;
}
