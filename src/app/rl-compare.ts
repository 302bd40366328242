/**
 * The before/after comparison of an RL session: before the first step and after the last, the
 * policy answers the first prompts with a fixed seed, and the reward scores each answer, so the
 * student sees what the session changed (rl-results.ts draws the table).
 */
import type { ModelInput, Tokenizer, TrainingClient } from '../index';
import { SamplingParams } from '../index';
import { generationPrompt, stopTokenIds } from '../recipes/chat';
import type { GroupReward, RlStepSettings } from '../recipes/rl-step';
import type { CompareRow } from './rl-results';

/** Prompts answered before and after a session, and their seed. */
const COMPARE_PROMPTS = 2;
export const COMPARE_SEED = 1234;

/**
 * One answer to each of the first prompts, same seed, from the policy as it is now (a snapshot
 * sampler, closed after); `before`: the rows of the answers before the session, to fill in.
 */
export async function compareAnswers(
  run: TrainingClient,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  settings: RlStepSettings,
  reward: GroupReward | null,
  before: readonly CompareRow[] | null,
): Promise<CompareRow[]> {
  const sampler = await run.save_weights_and_get_sampling_client();
  try {
    const rows: CompareRow[] = [];
    for (const [i, prompt] of prompts.slice(0, COMPARE_PROMPTS).entries()) {
      const input: ModelInput = generationPrompt(tokenizer, [{ role: 'user', content: prompt }]);
      const params = new SamplingParams({
        max_tokens: settings.maxTokens,
        temperature: settings.temperature,
        seed: COMPARE_SEED,
        stop: stopTokenIds(tokenizer),
      });
      const seq = (await sampler.sample(input, 1, params)).sequences[0];
      const text = tokenizer.decode([...(seq?.tokens ?? [])], { skip_special_tokens: true });
      const score = reward
        ? await Promise.resolve(reward(prompt, [text])).catch(() => [NaN])
        : [NaN];
      const answer = { text, reward: score[0] ?? NaN };
      rows.push(
        before
          ? { prompt, before: before[i]?.before ?? null, after: answer }
          : { prompt, before: answer, after: null },
      );
    }
    return rows;
  } finally {
    await sampler.close();
  }
}
