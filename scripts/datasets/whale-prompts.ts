/**
 * The RL task's prompts: short requests for one sentence on a seafaring topic, as
 * `{"prompt": "Write a sentence about the sea."}` lines. The reward that scores the completions is
 * code, not data: examples/lib/reward.ts (1 for a sentence that mentions a whale and ends with a
 * period, ½ for one of the two, 0 otherwise).
 *
 * None of the prompts names the whale, so the policy must learn to bring it in. Topics are things
 * and people of Moby-Dick; every topic is asked with every template, in a fixed order.
 */

export interface PromptLine {
  readonly prompt: string;
}

export const TOPICS = [
  'the sea',
  'the ship',
  'the captain',
  'the harpoon',
  'the crew',
  'a storm',
  'Nantucket',
  'Ahab',
  'Queequeg',
  'Ishmael',
  'the ocean',
  'a sailor',
  'the wind',
  'the night watch',
  'the voyage',
  'the deck',
] as const;

const TEMPLATES = [
  (topic: string) => `Write a sentence about ${topic}.`,
  (topic: string) => `Write one sentence about ${topic}.`,
  (topic: string) => `Describe ${topic} in one sentence.`,
];

/** Every template for every topic: 16 × 3 = 48 prompts, templates outermost. */
export function buildWhalePrompts(): PromptLine[] {
  return TEMPLATES.flatMap((template) => TOPICS.map((topic) => ({ prompt: template(topic) })));
}
