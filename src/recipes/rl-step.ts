/**
 * One step of the Tinker cookbook's `rl_loop` (GRPO-style; shared/reference/loops-api-notes.md
 * §9.3) over the public client. examples/rl-loop.ts loops over it in Node; the lab's RL mode
 * (src/app/rl-session.ts) runs it with pause and stop in a browser. Nothing here is written twice.
 *
 * A step: snapshot the current policy (`save_weights_and_get_sampling_client`), sample G
 * completions of each of the step's prompts (stopping at `<|im_end|>` or EOS), score them, centre
 * the rewards within each group, A_g = r_g − mean(r) (no division by the std: Dr. GRPO, Liu et al.
 * 2025), and train on every group whose rewards are not all equal (an all-equal group carries no
 * signal). Each completion becomes a datum exactly as §9.3 builds it: model_input = prompt +
 * completion[:-1]; over the prompt's positions target 0, sampler logprob 0 and advantage 0 (so
 * they add nothing to the loss); over the completion, its tokens, the sampler's logprobs and A.
 * `forward_backward(…, loss_fn, loss_fn_config)` and `optim_step` are submitted back to back.
 *
 * Scoring happens before anything is trained: a reward that throws, or returns something that is
 * not a finite number, rejects the step with a `RewardError` and the policy is left as it was.
 */
import { Datum, EncodedTextChunk, SamplingParams } from '../index';
import type { AdamParams, ModelInput, SampledSequence, Tokenizer, TrainingClient } from '../index';
import { generationPrompt, stopTokenIds } from './chat';

export const RL_LOSSES = ['importance_sampling', 'ppo', 'cispo', 'dro'] as const;
export type RlLoss = (typeof RL_LOSSES)[number];

/** Scores one group: the prompt and its G completions (decoded, special tokens removed). */
export type GroupReward = (
  prompt: string,
  completions: readonly string[],
) => readonly number[] | Promise<readonly number[]>;

/** A reward that failed or returned something other than one finite number per completion. */
export class RewardError extends Error {
  override readonly name = 'RewardError';
}

export interface RlStepSettings {
  /** Completions sampled per prompt (G). */
  readonly groupSize: number;
  /** Prompts per step, taken in order and wrapping around. */
  readonly batchSize: number;
  readonly maxTokens: number;
  readonly temperature: number;
  /** Seeds every sampling call: step s, prompt j samples with (seed·100003 + s)·1000 + j. */
  readonly seed: number;
  readonly lossFn: RlLoss;
  /** The loss's settings (`clip_low_threshold`…, `beta`); empty for importance_sampling. */
  readonly lossConfig: Readonly<Record<string, number>>;
  readonly adam: AdamParams;
}

export interface RlSample {
  readonly text: string;
  readonly tokens: number;
  readonly reward: number;
  readonly advantage: number;
  readonly stopReason: 'stop' | 'length';
}

export interface RlGroup {
  readonly prompt: string;
  /** The policy version of the snapshot these completions were sampled from. */
  readonly policyVersion: number;
  readonly samples: readonly RlSample[];
  /** All rewards equal: no signal, not trained on. */
  readonly skipped: boolean;
}

export interface RlStepResult {
  /** 1-based step of this session. */
  readonly step: number;
  readonly groups: readonly RlGroup[];
  readonly meanReward: number;
  /** Population standard deviation of every reward of the step. */
  readonly rewardStd: number;
  readonly meanTokens: number;
  readonly datums: number;
  readonly skippedGroups: number;
  /** The summed loss of the update, over its completion tokens; null when nothing was trained. */
  readonly lossPerToken: number | null;
  /** The run's policy version after the step. */
  readonly policyVersion: number;
}

/** A_g = r_g − mean(r): the group's rewards centred on their mean. */
export function centreRewards(rewards: readonly number[]): number[] {
  const mean = rewards.reduce((a, b) => a + b, 0) / Math.max(1, rewards.length);
  return rewards.map((r) => r - mean);
}

/** Mean and population standard deviation. */
export function meanAndStd(values: readonly number[]): { mean: number; std: number } {
  const n = Math.max(1, values.length);
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
  return { mean, std: Math.sqrt(variance) };
}

/** The §9.3 datum of one completion of `input` with advantage `advantage`. */
export function rlDatum(input: ModelInput, seq: SampledSequence, advantage: number): Datum {
  const ob = input.length - 1;
  const modelInput = input.append(new EncodedTextChunk({ tokens: seq.tokens.slice(0, -1) }));
  const zeros = new Array<number>(ob).fill(0);
  return new Datum({
    model_input: modelInput,
    loss_fn_inputs: {
      target_tokens: [...zeros, ...seq.tokens],
      logprobs: [...zeros, ...seq.logprobs],
      advantages: [...zeros, ...new Array<number>(modelInput.length - ob).fill(advantage)],
    },
  });
}

/** The prompts of step `step` (0-based): B prompts in order, wrapping around. */
export function stepPrompts(prompts: readonly string[], step: number, batchSize: number): string[] {
  return Array.from(
    { length: Math.min(batchSize, prompts.length) },
    (_, j) => prompts[(step * batchSize + j) % prompts.length] as string,
  );
}

/** Runs step `step` (0-based) of the loop on `tc`. */
export async function rlStep(
  tc: TrainingClient,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  step: number,
  settings: RlStepSettings,
  reward: GroupReward,
): Promise<RlStepResult> {
  const sampler = await tc.save_weights_and_get_sampling_client();
  const groups: RlGroup[] = [];
  const datums: Datum[] = [];
  try {
    const requests = stepPrompts(prompts, step, settings.batchSize).map((prompt, j) => {
      const input = generationPrompt(tokenizer, [{ role: 'user', content: prompt }]);
      const params = new SamplingParams({
        max_tokens: settings.maxTokens,
        temperature: settings.temperature,
        stop: stopTokenIds(tokenizer),
        seed: (settings.seed * 100_003 + step) * 1000 + j,
      });
      return { prompt, input, future: sampler.sample(input, settings.groupSize, params) };
    });
    for (const { prompt, input, future } of requests) {
      const result = await future;
      const texts = result.sequences.map((s) =>
        tokenizer.decode([...s.tokens], { skip_special_tokens: true }),
      );
      const rewards = checkRewards(await scoreGroup(reward, prompt, texts), texts.length, prompt);
      const advantages = centreRewards(rewards);
      const skipped = advantages.every((a) => a === 0);
      groups.push({
        prompt,
        policyVersion: result.policy_version,
        skipped,
        samples: result.sequences.map((s, g) => ({
          text: texts[g] as string,
          tokens: s.tokens.length,
          reward: rewards[g] as number,
          advantage: advantages[g] as number,
          stopReason: s.stop_reason,
        })),
      });
      if (skipped) continue;
      result.sequences.forEach((s, g) => {
        // Nothing generated (the context was full): nothing to train.
        if (s.tokens.length > 0) datums.push(rlDatum(input, s, advantages[g] as number));
      });
    }
  } finally {
    await sampler.close();
  }
  let lossPerToken: number | null = null;
  if (datums.length > 0) {
    const fb = tc.forward_backward(datums, settings.lossFn, { ...settings.lossConfig });
    const opt = tc.optim_step(settings.adam);
    const out = await fb;
    await opt;
    const tokens = datums.reduce((n, d) => n + d.model_input.length, 0);
    lossPerToken = out.loss / Math.max(1, tokens);
  }
  const samples = groups.flatMap((g) => g.samples);
  const { mean, std } = meanAndStd(samples.map((s) => s.reward));
  return {
    step: step + 1,
    groups,
    meanReward: mean,
    rewardStd: std,
    meanTokens: samples.reduce((n, s) => n + s.tokens, 0) / Math.max(1, samples.length),
    datums: datums.length,
    skippedGroups: groups.filter((g) => g.skipped).length,
    lossPerToken,
    policyVersion: tc.policy_version,
  };
}

async function scoreGroup(
  reward: GroupReward,
  prompt: string,
  texts: readonly string[],
): Promise<readonly number[]> {
  try {
    return await reward(prompt, texts);
  } catch (error) {
    if (error instanceof RewardError) throw error;
    throw new RewardError(
      `The reward failed on the prompt ${JSON.stringify(prompt.slice(0, 60))}: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  }
}

function checkRewards(rewards: readonly number[], count: number, prompt: string): number[] {
  if (!Array.isArray(rewards) || rewards.length !== count) {
    throw new RewardError(
      `The reward gave ${Array.isArray(rewards) ? rewards.length : 'no'} scores for the ${count} completions of ${JSON.stringify(prompt.slice(0, 60))}; it must give one number each.`,
    );
  }
  const bad = rewards.findIndex((r) => typeof r !== 'number' || !Number.isFinite(r));
  if (bad >= 0) {
    throw new RewardError(
      `The reward of completion ${bad + 1} of ${JSON.stringify(prompt.slice(0, 60))} is ${String(rewards[bad])}, not a finite number; nothing was trained.`,
    );
  }
  return [...rewards];
}
