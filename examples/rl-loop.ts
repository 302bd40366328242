/**
 * Reinforcement learning, top to bottom: a port of the Tinker cookbook's `rl_loop` recipe
 * (GRPO-style; shared/reference/loops-api-notes.md §9.3) over the public client.
 *
 * The task: public/datasets/whale-sentences.prompts.jsonl ("Write a sentence about the sea."),
 * scored by examples/lib/reward.ts (½ for mentioning a whale, ½ for ending with a period). Each
 * step is `rlStep` (src/recipes/rl-step.ts, the same code the lab's RL mode runs): snapshot the
 * policy, sample a group of G completions per prompt, reward them, centre the rewards within the
 * group (A_g = r_g − mean(r)), skip all-equal groups, build the §9.3 `importance_sampling` datums,
 * and submit `forward_backward` and `optim_step` back to back.
 *
 * In Node:  node --import tsx examples/rl-loop.ts [--model loops-tiny-llama] [--steps 20]
 *           [--group 8] [--batch 4] [--rank 8] [--lr 2e-3] [--models-dir <dir>]
 * In the app: `runRlLoop({ service, loadText: (f) => fetch('/datasets/' + f).then((r) => r.text()) })`.
 */
import { AdamParams } from '../src/index';
import type { ServiceClient } from '../src/index';
import { rlStep, type RlLoss } from '../src/recipes/rl-step';
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
  /** The policy loss; default 'importance_sampling' (the recipe's). */
  readonly lossFn?: RlLoss;
  /** Its settings (`clip_low_threshold`…, `beta`); default none. */
  readonly lossConfig?: Readonly<Record<string, number>>;
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
  lossFn: 'importance_sampling' as RlLoss,
  lossConfig: {} as Readonly<Record<string, number>>,
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
    const settings = {
      groupSize: o.groupSize,
      batchSize: o.batchSize,
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      seed: o.seed,
      lossFn: o.lossFn,
      lossConfig: o.lossConfig,
      adam,
    };
    const reward = (_prompt: string, texts: readonly string[]) => texts.map((t) => o.reward(t));
    for (let step = 0; step < o.steps; step++) {
      // Sample, score, centre within each group, train: src/recipes/rl-step.ts, shared with the lab.
      const result = await rlStep(tc, tokenizer, prompts, step, settings, reward);
      const samples = result.groups.flatMap((g) => g.samples);
      const scores = samples.map((s) => scoreWhaleSentence(s.text));
      const share = (f: (s: RewardParts) => number) =>
        scores.reduce((a, s) => a + f(s), 0) / Math.max(1, scores.length);
      const record: RlStep = {
        step: result.step,
        meanReward: result.meanReward,
        whaleShare: share((s) => Number(s.mentionsWhale)),
        periodShare: share((s) => Number(s.endsWithPeriod)),
        meanTokens: result.meanTokens,
        skippedGroups: result.skippedGroups,
        datums: result.datums,
        sample: (samples[0]?.text ?? '').trim(),
      };
      steps.push(record);
      callbacks.onStep?.(record);
      log(
        `step ${record.step}/${o.steps}: mean reward ${record.meanReward.toFixed(3)} ` +
          `(whale ${(100 * record.whaleShare).toFixed(0)}%, period ${(100 * record.periodShare).toFixed(0)}%), ` +
          `${record.meanTokens.toFixed(1)} tokens, ${record.datums} datums, ${record.skippedGroups} groups skipped` +
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
