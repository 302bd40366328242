/**
 * Supervised fine-tuning, top to bottom: a port of the Tinker cookbook's `sl_loop` recipe
 * (shared/reference/loops-api-notes.md §9.2) over the public client.
 *
 * A LoRA adapter learns the whaling chat set (public/datasets/whaling-chat.*.jsonl): each
 * conversation goes through the tokenizer's chat template, the prompt is masked (-100, weight 0)
 * and the assistant's answer is trained with `cross_entropy`. The learning rate decays linearly to
 * 0, lr_t = lr·(1 − t/steps). Each step submits `forward_backward` and `optim_step` back to back
 * before awaiting either. Held-out NLL (nats per answer token, −Σ w·lp / Σ w with `forward`) is
 * measured before, every `evalEvery` steps and after; greedy answers to held-out questions are
 * scored against the taught format before and after. The run ends with `save_state` and
 * `save_weights_for_sampler`.
 *
 * In Node:  node --import tsx examples/sl-loop.ts [--model loops-tiny-llama] [--steps 100]
 *           [--rank 8] [--lr 3e-3] [--batch 16] [--eval-every 25] [--models-dir <dir>]
 * In the app: `runSlLoop({ service, loadText: (f) => fetch('/datasets/' + f).then((r) => r.text()) })`.
 */
import { AdamParams } from '../src/index';
import type { Datum, ServiceClient, TrainingClient } from '../src/index';
import { conversationToDatum, meanNll, weightedNll } from './lib/chat-datum';
import { greedyAnswers } from './lib/greedy-answers';
import type { AnswerScore } from './lib/greedy-answers';
import { readChatLines } from './lib/jsonl';
import type { TextLoader } from './lib/jsonl';
import { isMainModule } from './lib/main-module';

export type { AnswerScore, GreedyAnswer } from './lib/greedy-answers';

export const SL_TRAIN_FILE = 'whaling-chat.train.jsonl';
export const SL_HELDOUT_FILE = 'whaling-chat.heldout.jsonl';

export interface SlLoopOptions {
  /** The client to train through (in Node: examples/lib/node-cli.ts `nodeService`). */
  readonly service: ServiceClient;
  /** Reads a dataset file by name (SL_TRAIN_FILE, SL_HELDOUT_FILE). */
  readonly loadText: TextLoader;
  /** Base model name; default 'loops-tiny-llama'. */
  readonly model?: string;
  /** Optimiser steps; default 100. */
  readonly steps?: number;
  /** LoRA rank; default 8. */
  readonly rank?: number;
  /** Peak learning rate (step 0), decayed linearly to 0; default 3e-3. */
  readonly learningRate?: number;
  /** Conversations per step, taken in file order and wrapping around; default 16. */
  readonly batchSize?: number;
  /** Held-out NLL every this many steps (and always before and after); default 25. */
  readonly evalEvery?: number;
  /** Adapter initialisation seed; default 0. */
  readonly seed?: number;
  /** Use only the first N training / held-out conversations (quick runs, tests); default all. */
  readonly trainLimit?: number;
  readonly heldoutLimit?: number;
  /** Held-out questions answered greedily before and after, and scored; default all. */
  readonly answerCount?: number;
  /** Most tokens of a greedy answer; default 32. */
  readonly maxAnswerTokens?: number;
  /** Name of the final checkpoints; default 'sl-final'. */
  readonly checkpointName?: string;
}

export interface SlStep {
  readonly step: number;
  readonly learningRate: number;
  /** Mean NLL per trained token of this step's batch (nats), before the update. */
  readonly trainNll: number;
  readonly numTokens: number;
  readonly gradNorm: number;
}

export interface SlEval {
  /** Optimiser steps taken when it was measured. */
  readonly step: number;
  /** Mean NLL per answer token over the held-out set (nats). */
  readonly heldoutNll: number;
}

export interface SlLoopResult {
  readonly model: string;
  readonly runId: string;
  readonly steps: readonly SlStep[];
  readonly evals: readonly SlEval[];
  readonly heldoutNllBefore: number;
  readonly heldoutNllAfter: number;
  readonly before: AnswerScore;
  readonly after: AnswerScore;
  readonly statePath: string;
  readonly samplerPath: string;
  readonly seconds: number;
}

export interface SlLoopCallbacks {
  /** Human-readable progress lines. */
  readonly log?: (line: string) => void;
  readonly onStep?: (step: SlStep) => void;
  readonly onEval?: (evaluation: SlEval) => void;
}

/** Defaults of every optional `SlLoopOptions` field. */
export const SL_DEFAULTS = Object.freeze({
  model: 'loops-tiny-llama',
  steps: 100,
  rank: 8,
  learningRate: 3e-3,
  batchSize: 16,
  evalEvery: 25,
  seed: 0,
  trainLimit: Infinity,
  heldoutLimit: Infinity,
  answerCount: Infinity,
  maxAnswerTokens: 32,
  checkpointName: 'sl-final',
});

/** The recipe. Returns the figures it printed; closes the training client it made. */
export async function runSlLoop(
  options: SlLoopOptions,
  callbacks: SlLoopCallbacks = {},
): Promise<SlLoopResult> {
  const o = { ...SL_DEFAULTS, ...options };
  const log = callbacks.log ?? (() => undefined);
  const started = performance.now();

  // Data: conversations → supervised datums through the chat template.
  const trainChats = readChatLines(await o.loadText(SL_TRAIN_FILE), SL_TRAIN_FILE).slice(
    0,
    o.trainLimit,
  );
  const heldoutChats = readChatLines(await o.loadText(SL_HELDOUT_FILE), SL_HELDOUT_FILE).slice(
    0,
    o.heldoutLimit,
  );
  const tc = await o.service.create_lora_training_client({
    base_model: o.model,
    rank: o.rank,
    seed: o.seed,
  });
  try {
    const tokenizer = await tc.get_tokenizer();
    const maxLength = tc.get_info().max_seq_len;
    const trainData = trainChats.map((m) => conversationToDatum(tokenizer, m, maxLength));
    const heldoutData = heldoutChats.map((m) => conversationToDatum(tokenizer, m, maxLength));
    const answerChats = heldoutChats.slice(0, o.answerCount);
    log(
      `sl: ${o.model}, LoRA rank ${o.rank}, ${trainData.length} training / ${heldoutData.length} ` +
        `held-out conversations, ${o.steps} steps of ${o.batchSize}, lr ${o.learningRate}`,
    );

    // Before training: held-out NLL and greedy answers of the unchanged model (B = 0).
    const heldoutNllBefore = await heldoutNll(tc, heldoutData, o.batchSize);
    const evals: SlEval[] = [{ step: 0, heldoutNll: heldoutNllBefore }];
    callbacks.onEval?.(evals[0] as SlEval);
    log(`held-out NLL before: ${heldoutNllBefore.toFixed(4)} nats/token`);
    const baseSampler = await tc.save_weights_and_get_sampling_client();
    const before = await greedyAnswers(baseSampler, tokenizer, answerChats, o.maxAnswerTokens);
    await baseSampler.close();
    logAnswers(log, 'before', before);

    // The loop: linear LR decay; forward_backward and optim_step submitted back to back.
    const steps: SlStep[] = [];
    for (let step = 0; step < o.steps; step++) {
      const learningRate = o.learningRate * Math.max(0, 1 - step / o.steps);
      const batch = Array.from(
        { length: Math.min(o.batchSize, trainData.length) },
        (_, i) => trainData[(step * o.batchSize + i) % trainData.length] as Datum,
      );
      const adam = new AdamParams({
        learning_rate: learningRate,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
      });
      const fbFuture = tc.forward_backward(batch, 'cross_entropy');
      const optFuture = tc.optim_step(adam);
      const [out, opt] = [await fbFuture, await optFuture];
      const record: SlStep = {
        step: step + 1,
        learningRate,
        trainNll: meanNll(out, batch),
        numTokens: out.metrics['num_tokens:sum'] ?? 0,
        gradNorm: opt.metrics.grad_norm ?? NaN,
      };
      steps.push(record);
      callbacks.onStep?.(record);
      log(
        `step ${record.step}/${o.steps}: nll ${record.trainNll.toFixed(4)}, lr ${learningRate.toExponential(2)}, ` +
          `grad norm ${record.gradNorm.toFixed(3)}, ${record.numTokens} tokens`,
      );
      if (record.step % o.evalEvery === 0 && record.step < o.steps) {
        const evaluation = {
          step: record.step,
          heldoutNll: await heldoutNll(tc, heldoutData, o.batchSize),
        };
        evals.push(evaluation);
        callbacks.onEval?.(evaluation);
        log(`step ${record.step}: held-out NLL ${evaluation.heldoutNll.toFixed(4)}`);
      }
    }

    // After: held-out NLL, final checkpoints, greedy answers from the saved sampler weights.
    const heldoutNllAfter = await heldoutNll(tc, heldoutData, o.batchSize);
    const final = { step: o.steps, heldoutNll: heldoutNllAfter };
    evals.push(final);
    callbacks.onEval?.(final);
    log(
      `held-out NLL after: ${heldoutNllAfter.toFixed(4)} nats/token (before ${heldoutNllBefore.toFixed(4)})`,
    );
    const state = await tc.save_state(o.checkpointName);
    const sampler = await tc.save_weights_for_sampler(o.checkpointName);
    log(`saved ${state.path} and ${sampler.path}`);
    const tunedSampler = await tc.create_sampling_client(sampler.path);
    const after = await greedyAnswers(tunedSampler, tokenizer, answerChats, o.maxAnswerTokens);
    await tunedSampler.close();
    logAnswers(log, 'after', after);
    const runId = tc.run_id;
    return {
      model: o.model,
      runId,
      steps,
      evals,
      heldoutNllBefore,
      heldoutNllAfter,
      before,
      after,
      statePath: state.path,
      samplerPath: sampler.path,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await tc.close();
  }
}

/** Mean NLL per answer token over `data`, with `forward` (no gradient) in chunks of `chunk`. */
async function heldoutNll(tc: TrainingClient, data: readonly Datum[], chunk: number) {
  const futures = [];
  for (let i = 0; i < data.length; i += chunk) {
    const batch = data.slice(i, i + chunk);
    futures.push({ batch, out: tc.forward(batch, 'cross_entropy') });
  }
  let nll = 0;
  let weight = 0;
  for (const { batch, out } of futures) {
    const part = weightedNll(await out, batch);
    nll += part.nll;
    weight += part.weight;
  }
  return weight === 0 ? 0 : nll / weight;
}

function logAnswers(log: (line: string) => void, when: string, score: AnswerScore): void {
  for (const a of score.answers.slice(0, 4))
    log(`  Q: ${a.question}\n  A (${when}): ${a.answer || '(none: it stopped at once)'}`);
  log(
    `greedy answers ${when}: ${(100 * score.formatShare).toFixed(0)}% in the taught format, ` +
      `${(100 * score.chapterShare).toFixed(0)}% naming the right chapter, ` +
      `${(100 * score.exactShare).toFixed(0)}% exactly right (${score.answers.length} held-out questions)`,
  );
}

// Command line (Node only; the helpers are imported lazily so browsers never load them).
async function main(): Promise<void> {
  const cli = await import('./lib/node-cli');
  const flags = cli.readFlags(process.argv.slice(2), [
    'model',
    'steps',
    'rank',
    'lr',
    'batch',
    'eval-every',
    'models-dir',
    'backend',
  ]);
  const service = cli.nodeService({ modelsDir: flags['models-dir'], backend: flags.backend });
  try {
    console.log(`backend: ${(await service.backend()).backend}`);
    const result = await runSlLoop(
      {
        service,
        loadText: cli.datasetFileLoader(),
        model: flags.model ?? SL_DEFAULTS.model,
        steps: cli.numberFlag('steps', flags.steps, SL_DEFAULTS.steps, true),
        rank: cli.numberFlag('rank', flags.rank, SL_DEFAULTS.rank, true),
        learningRate: cli.numberFlag('lr', flags.lr, SL_DEFAULTS.learningRate, false),
        batchSize: cli.numberFlag('batch', flags.batch, SL_DEFAULTS.batchSize, true),
        evalEvery: cli.numberFlag('eval-every', flags['eval-every'], SL_DEFAULTS.evalEvery, true),
      },
      { log: (line) => console.log(line) },
    );
    const fall = 1 - result.heldoutNllAfter / result.heldoutNllBefore;
    console.log(
      `\nheld-out NLL ${result.heldoutNllBefore.toFixed(4)} → ${result.heldoutNllAfter.toFixed(4)} ` +
        `nats/token (${(100 * fall).toFixed(1)}% lower); taught format ` +
        `${(100 * result.before.formatShare).toFixed(0)}% → ${(100 * result.after.formatShare).toFixed(0)}%; ` +
        `${result.seconds.toFixed(0)} s`,
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
