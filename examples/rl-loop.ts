/**
 * Reinforcement learning, top to bottom: a port of the Tinker cookbook's `rl_loop` recipe
 * (GRPO-style; shared/reference/loops-api-notes.md §9.3) over the public client.
 *
 * The task: public/datasets/whale-sentences.prompts.jsonl ("Write a sentence about the sea."),
 * scored by examples/lib/reward.ts (½ for mentioning a whale, ½ for ending with a period). Each
 * step takes a snapshot of the current policy (`save_weights_and_get_sampling_client`), samples a
 * group of G completions per prompt (stopping at `<|im_end|>` or EOS), rewards them and centres the
 * rewards within the group, A_g = r_g − mean(r) (no division by the std). Groups whose rewards are
 * all equal carry no signal and are skipped. Each completion becomes an `importance_sampling`
 * datum exactly as §9.3 builds it: model_input = prompt + completion[:-1]; over the prompt's
 * positions target 0, sampler logprob 0 and advantage 0 (so they add nothing to
 * L = −Σ exp(lp − q)·A); over the completion, its tokens, the sampler's logprobs and A.
 * `forward_backward(…, 'importance_sampling')` and `optim_step` are submitted back to back.
 *
 * In Node:  node --import tsx examples/rl-loop.ts [--model loops-tiny-llama] [--steps 20]
 *           [--group 8] [--batch 4] [--rank 8] [--lr 2e-3] [--models-dir <dir>]
 * In the app: `runRlLoop({ service, loadText: (f) => fetch('/datasets/' + f).then((r) => r.text()) })`.
 */
import { AdamParams, Datum, EncodedTextChunk, SamplingParams } from '../src/index';
import type { ServiceClient } from '../src/index';
import { generationPrompt, stopTokenIds } from './lib/chat-datum';
import { readPromptLines } from './lib/jsonl';
import type { TextLoader } from './lib/jsonl';
import { isMainModule } from './lib/main-module';
import { scoreWhaleSentence, whaleSentenceReward } from './lib/reward';
import type { RewardParts } from './lib/reward';

export const RL_PROMPTS_FILE = 'whale-sentences.prompts.jsonl';

export interface RlLoopOptions {
  readonly service: ServiceClient;
  /** Reads a dataset file by name (RL_PROMPTS_FILE). */
  readonly loadText: TextLoader;
  /** Base model name; default 'loops-tiny-llama'. */
  readonly model?: string;
  /** Policy updates; default 20. */
  readonly steps?: number;
  /** Completions sampled per prompt (G); default 8. */
  readonly groupSize?: number;
  /** Prompts per step, taken in file order and wrapping around; default 4. */
  readonly batchSize?: number;
  /** LoRA rank; default 8. */
  readonly rank?: number;
  /** Adam learning rate (constant, as in the recipe); default 2e-3. */
  readonly learningRate?: number;
  /** Most tokens per completion; default 24. */
  readonly maxTokens?: number;
  /** Sampling temperature; default 1. */
  readonly temperature?: number;
  /** Seeds the adapter and every sampling call, so a run repeats exactly; default 0. */
  readonly seed?: number;
  /** Use only the first N prompts; default all. */
  readonly promptLimit?: number;
  /** The reward of a completion's text; default the demo task's, `whaleSentenceReward`. */
  readonly reward?: (completion: string) => number;
}

export interface RlStep {
  readonly step: number;
  /** Mean reward over every completion sampled this step (before the update). */
  readonly meanReward: number;
  /** Shares of completions that mention a whale / end with a period (the demo task's parts). */
  readonly whaleShare: number;
  readonly periodShare: number;
  /** Mean completion length in tokens. */
  readonly meanTokens: number;
  /** Groups with all rewards equal (skipped) and datums trained on. */
  readonly skippedGroups: number;
  readonly datums: number;
  /** An example completion (the first of the step). */
  readonly sample: string;
}

export interface RlLoopResult {
  readonly model: string;
  readonly runId: string;
  readonly steps: readonly RlStep[];
  /** Optimiser steps taken (steps where every group was skipped take none). */
  readonly policyVersion: number;
  readonly seconds: number;
}

export interface RlLoopCallbacks {
  readonly log?: (line: string) => void;
  readonly onStep?: (step: RlStep) => void;
}

/** Defaults of every optional `RlLoopOptions` field. */
export const RL_DEFAULTS = Object.freeze({
  model: 'loops-tiny-llama',
  steps: 20,
  groupSize: 8,
  batchSize: 4,
  rank: 8,
  learningRate: 2e-3,
  maxTokens: 24,
  temperature: 1,
  seed: 0,
  promptLimit: Infinity,
  reward: whaleSentenceReward,
});

/** The recipe. Returns the per-step figures it printed; closes the training client it made. */
export async function runRlLoop(
  options: RlLoopOptions,
  callbacks: RlLoopCallbacks = {},
): Promise<RlLoopResult> {
  const o = { ...RL_DEFAULTS, ...options };
  const log = callbacks.log ?? (() => undefined);
  const started = performance.now();
  const prompts = readPromptLines(await o.loadText(RL_PROMPTS_FILE), RL_PROMPTS_FILE).slice(
    0,
    o.promptLimit,
  );
  const tc = await o.service.create_lora_training_client({
    base_model: o.model,
    rank: o.rank,
    seed: o.seed,
  });
  try {
    const tokenizer = await tc.get_tokenizer();
    const adam = new AdamParams({
      learning_rate: o.learningRate,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
    });
    log(
      `rl: ${o.model}, LoRA rank ${o.rank}, ${prompts.length} prompts, ${o.steps} steps of ` +
        `${o.batchSize} prompts × ${o.groupSize} samples, lr ${o.learningRate}`,
    );

    const steps: RlStep[] = [];
    for (let step = 0; step < o.steps; step++) {
      // Sample G completions of each prompt from a snapshot of the current policy.
      const sampler = await tc.save_weights_and_get_sampling_client();
      const batch = Array.from(
        { length: Math.min(o.batchSize, prompts.length) },
        (_, j) => prompts[(step * o.batchSize + j) % prompts.length] as string,
      );
      const requests = batch.map((prompt, j) => {
        const input = generationPrompt(tokenizer, [{ role: 'user', content: prompt }]);
        const params = new SamplingParams({
          max_tokens: o.maxTokens,
          temperature: o.temperature,
          stop: stopTokenIds(tokenizer),
          seed: (o.seed * 100_003 + step) * 1000 + j,
        });
        return { input, future: sampler.sample(input, o.groupSize, params) };
      });

      // Reward, centre within each group, and build the importance-sampling datums.
      const datums: Datum[] = [];
      const scores: RewardParts[] = [];
      const allRewards: number[] = [];
      const lengths: number[] = [];
      let skippedGroups = 0;
      let sample = '';
      for (const { input, future } of requests) {
        const result = await future;
        const texts = result.sequences.map((s) =>
          tokenizer.decode([...s.tokens], { skip_special_tokens: true }),
        );
        sample ||= texts[0] ?? '';
        scores.push(...texts.map(scoreWhaleSentence));
        lengths.push(...result.sequences.map((s) => s.tokens.length));
        const rewards = texts.map((text) => o.reward(text));
        allRewards.push(...rewards);
        const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
        const advantages = rewards.map((r) => r - mean);
        if (advantages.every((a) => a === 0)) {
          skippedGroups += 1;
          continue;
        }
        result.sequences.forEach((s, g) => {
          if (s.tokens.length === 0) return; // nothing generated (the context was full)
          const ob = input.length - 1;
          const modelInput = input.append(new EncodedTextChunk({ tokens: s.tokens.slice(0, -1) }));
          const advantage = advantages[g] as number;
          datums.push(
            new Datum({
              model_input: modelInput,
              loss_fn_inputs: {
                target_tokens: [...new Array<number>(ob).fill(0), ...s.tokens],
                logprobs: [...new Array<number>(ob).fill(0), ...s.logprobs],
                advantages: [
                  ...new Array<number>(ob).fill(0),
                  ...new Array<number>(modelInput.length - ob).fill(advantage),
                ],
              },
            }),
          );
        });
      }
      await sampler.close();

      // One policy update on every datum of the step.
      if (datums.length > 0) {
        const fbFuture = tc.forward_backward(datums, 'importance_sampling');
        const optFuture = tc.optim_step(adam);
        await fbFuture;
        await optFuture;
      }
      const share = (f: (s: RewardParts) => number) =>
        scores.reduce((a, s) => a + f(s), 0) / Math.max(1, scores.length);
      const record: RlStep = {
        step: step + 1,
        meanReward: allRewards.reduce((a, b) => a + b, 0) / Math.max(1, allRewards.length),
        whaleShare: share((s) => Number(s.mentionsWhale)),
        periodShare: share((s) => Number(s.endsWithPeriod)),
        meanTokens: lengths.reduce((a, b) => a + b, 0) / Math.max(1, lengths.length),
        skippedGroups,
        datums: datums.length,
        sample: sample.trim(),
      };
      steps.push(record);
      callbacks.onStep?.(record);
      log(
        `step ${record.step}/${o.steps}: mean reward ${record.meanReward.toFixed(3)} ` +
          `(whale ${(100 * record.whaleShare).toFixed(0)}%, period ${(100 * record.periodShare).toFixed(0)}%), ` +
          `${record.meanTokens.toFixed(1)} tokens, ${record.datums} datums, ${skippedGroups} groups skipped` +
          ` | ${JSON.stringify(record.sample.slice(0, 80))}`,
      );
    }
    const runId = tc.run_id;
    const policyVersion = tc.policy_version;
    return {
      model: o.model,
      runId,
      steps,
      policyVersion,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await tc.close();
  }
}

// Command line (Node only; the helpers are imported lazily so browsers never load them).
async function main(): Promise<void> {
  const cli = await import('./lib/node-cli');
  const flags = cli.readFlags(process.argv.slice(2), [
    'model',
    'steps',
    'group',
    'batch',
    'rank',
    'lr',
    'max-tokens',
    'seed',
    'models-dir',
    'backend',
  ]);
  const service = cli.nodeService({ modelsDir: flags['models-dir'], backend: flags.backend });
  try {
    console.log(`backend: ${(await service.backend()).backend}`);
    const result = await runRlLoop(
      {
        service,
        loadText: cli.datasetFileLoader(),
        model: flags.model ?? RL_DEFAULTS.model,
        steps: cli.numberFlag('steps', flags.steps, RL_DEFAULTS.steps, true),
        groupSize: cli.numberFlag('group', flags.group, RL_DEFAULTS.groupSize, true),
        batchSize: cli.numberFlag('batch', flags.batch, RL_DEFAULTS.batchSize, true),
        rank: cli.numberFlag('rank', flags.rank, RL_DEFAULTS.rank, true),
        learningRate: cli.numberFlag('lr', flags.lr, RL_DEFAULTS.learningRate, false),
        maxTokens: cli.numberFlag('max-tokens', flags['max-tokens'], RL_DEFAULTS.maxTokens, true),
        seed: cli.integerFlag('seed', flags.seed, RL_DEFAULTS.seed),
      },
      { log: (line) => console.log(line) },
    );
    const rewards = result.steps.map((s) => s.meanReward);
    const third = Math.max(1, Math.floor(rewards.length / 3));
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    console.log(
      `\nmean reward per step: ${rewards.map((r) => r.toFixed(2)).join(' ')}\n` +
        `first ${third} steps ${avg(rewards.slice(0, third)).toFixed(3)} → last ${third} steps ` +
        `${avg(rewards.slice(-third)).toFixed(3)}; ${result.seconds.toFixed(0)} s`,
    );
  } finally {
    await service.close();
  }
}

if (isMainModule(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
