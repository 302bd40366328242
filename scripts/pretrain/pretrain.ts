/**
 * Pretrains one of our base models (model-presets.ts) from scratch on the wasm backend and writes
 * it in the Hugging Face layout under public/models/<name>/ (model-folder.ts), listed in
 * public/models/models.json.
 *
 *   node --import tsx scripts/pretrain/pretrain.ts --model llama|gpt2 --steps N [--minutes M]
 *       [--seed 1] [--resume] [--batch 8] [--seq 256] [--lr 3e-3] [--warmup 100]
 *       [--eval-every 100] [--checkpoint-minutes 4] [--out public/models] [--checkpoint FILE]
 *
 * The shipped models: `--model llama --steps 700 --warmup 50` and `--model gpt2 --steps 450
 * --warmup 40` (seed 1, other options at their defaults); their model cards give the figures.
 * Checkpoints go to FILE, default `<os tmpdir>/loops-pretrain/<name>-seed<seed>.safetensors`.
 *
 * `--steps` fixes the schedule (warmup, then cosine to lr/10 at step N): with it the run is a pure
 * function of the seed (init, data order) and the backend's arithmetic. `--minutes` is a wall-clock
 * stop; without `--steps` the total is estimated from the speed of the first 10 steps (then the
 * schedule, and so the result, depends on the machine's speed). A stopped run saves a checkpoint
 * (every `--checkpoint-minutes` too) and `--resume` continues it exactly: the data order is a
 * function of (seed, step) and the AdamW moments are saved bit for bit.
 *
 * Log line every 10 steps: step, loss (nats/token, mean of the last 10), lr, tokens/s, ETA; every
 * `--eval-every` steps also the held-out bits per byte over 32 evenly spaced held-out windows
 * (the full held-out figure is evaluate.ts's).
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { LoopsError, ValidationError } from '../../src/errors/loops-errors';
import { selectBackend } from '../../src/runtime/backend';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, type RunProgress } from './checkpoint';
import { learningRate } from './lr-schedule';
import { CONTEXT, modelPreset, type ModelPreset } from './model-presets';
import {
  TOKENIZER_DIR,
  updateManifest,
  writeModelFolder,
  writeTrainingFacts,
} from './model-folder';
import { evenlySpacedWindows, loadPretrainData, type PretrainData } from './pretrain-data';
import { Pretrainer } from './train-loop';
import type { TensorToWrite } from '../../src/io/safetensors-writer';

export interface PretrainOptions {
  readonly preset: ModelPreset;
  readonly seed: number;
  readonly steps: number | null;
  readonly minutes: number | null;
  readonly resume: boolean;
  readonly batch: number;
  readonly seqLen: number;
  readonly peakLr: number;
  readonly warmup: number;
  readonly evalEvery: number;
  readonly checkpointMinutes: number;
  readonly outRoot: string;
  readonly checkpointPath: string;
}

const LOG_EVERY = 10;
const EVAL_WINDOWS = 32;
const LN2 = Math.LN2;

/** Held-out bits per byte of the fixed evaluation windows. */
async function quickHeldout(
  trainer: Pretrainer,
  evalSet: ReturnType<typeof evenlySpacedWindows>,
): Promise<number> {
  const T = evalSet.inputs.length / evalSet.count;
  let nats = 0;
  for (let i = 0; i < evalSet.count; i += 8) {
    const n = Math.min(8, evalSet.count - i);
    const lp = await trainer.logprobs(
      evalSet.inputs.subarray(i * T, (i + n) * T),
      evalSet.targets.subarray(i * T, (i + n) * T),
      n,
    );
    for (const x of lp) nats -= x;
  }
  return nats / LN2 / evalSet.bytes;
}

/** The trainer and progress of a fresh run, or of the checkpoint when resuming. */
function openRun(o: PretrainOptions): { trainer: Pretrainer; progress: RunProgress } {
  const resumed =
    o.resume && hasCheckpoint(o.checkpointPath) ? loadCheckpoint(o.checkpointPath) : null;
  if (o.resume && !resumed) console.log(`no checkpoint at ${o.checkpointPath}; starting fresh`);
  if (resumed && (resumed.progress.seed !== o.seed || resumed.progress.kind !== o.preset.kind)) {
    const { kind, seed } = resumed.progress;
    throw new ValidationError(
      `${o.checkpointPath} is a ${kind} run with seed ${seed}; resume it with ` +
        `--model ${kind} --seed ${seed}, or drop --resume.`,
    );
  }
  const trainer = new Pretrainer(o.preset.config, o.seed, undefined, resumed?.weights);
  if (resumed) trainer.importOptimizer(resumed.decay, resumed.plain);
  const progress: RunProgress = resumed?.progress ?? {
    kind: o.preset.kind,
    seed: o.seed,
    step: 0,
    totalSteps: o.steps ?? 0,
    tokensSeen: 0,
    trainSeconds: 0,
    history: [],
  };
  return { trainer, progress };
}

/** Without --steps: the schedule length that fills the time left, from the speed so far. */
function estimateTotalSteps(
  o: PretrainOptions,
  progress: RunProgress,
  secondsLeft: number,
): number {
  const perStep = progress.trainSeconds / progress.step;
  const total = Math.max(o.warmup + 10, Math.floor(progress.step + (0.97 * secondsLeft) / perStep));
  console.log(`estimated schedule: ${total} steps (${perStep.toFixed(2)} s/step)`);
  return total;
}

/** Writes the model folder, training.json and the manifest entry. */
function finishRun(
  o: PretrainOptions,
  data: PretrainData,
  weights: TensorToWrite[],
  parameters: number,
  progress: RunProgress,
): void {
  const sizes = writeModelFolder(o.outRoot, o.preset, weights, CONTEXT);
  writeTrainingFacts(o.outRoot, o.preset.name, {
    model: o.preset.name,
    parameters,
    seed: o.seed,
    steps: progress.step,
    totalSteps: progress.totalSteps,
    batch: o.batch,
    seqLen: o.seqLen,
    tokensSeen: progress.tokensSeen,
    trainingTokens: data.train.stream.length,
    epochs: data.train.epochs(progress.step, o.batch),
    peakLr: o.peakLr,
    warmup: o.warmup,
    trainSeconds: Math.round(progress.trainSeconds),
    history: progress.history,
    finished: progress.step === progress.totalSteps,
  });
  updateManifest(o.outRoot, {
    name: o.preset.name,
    max_context_length: CONTEXT,
    description: o.preset.description,
  });
  for (const [file, bytes] of Object.entries(sizes)) {
    console.log(`wrote ${o.preset.name}/${file} (${bytes} bytes)`);
  }
}

/** Runs (or resumes) the run of `o` until its last step or its time budget; see the module comment. */
export async function pretrain(o: PretrainOptions, data: PretrainData): Promise<RunProgress> {
  const opened = openRun(o);
  const trainer = opened.trainer;
  let progress = opened.progress;
  const evalSet = evenlySpacedWindows(data.heldoutStream, o.seqLen, EVAL_WINDOWS, data.tokenBytes);
  console.log(
    `${o.preset.name}: ${trainer.parameterCount} parameters; ${data.train.count} training windows ` +
      `of ${o.seqLen}; batch ${o.batch}; starting at step ${progress.step}`,
  );
  const deadline = o.minutes === null ? Infinity : performance.now() + o.minutes * 60_000;
  let lastCheckpoint = performance.now();
  const losses: number[] = [];
  let windowStart = performance.now();
  const save = async () => saveCheckpoint(o.checkpointPath, await trainer.exportState(), progress);
  try {
    while (progress.totalSteps === 0 || progress.step < progress.totalSteps) {
      if (performance.now() >= deadline) {
        console.log(`time budget of ${o.minutes} min reached at step ${progress.step}`);
        break;
      }
      const s = progress.step;
      const lr = learningRate(s, {
        peak: o.peakLr,
        floor: o.peakLr / 10,
        warmupSteps: o.warmup,
        totalSteps: progress.totalSteps || Math.max(s + 2, o.warmup + 1),
      });
      const { inputs, targets } = data.train.gather(data.train.batchWindows(s, o.batch));
      const t0 = performance.now();
      const { loss } = await trainer.step(inputs, targets, o.batch, lr);
      if (!Number.isFinite(loss)) throw new LoopsError(`loss is ${loss} at step ${s}; lower --lr.`);
      progress = {
        ...progress,
        step: s + 1,
        tokensSeen: progress.tokensSeen + inputs.length,
        trainSeconds: progress.trainSeconds + (performance.now() - t0) / 1000,
      };
      losses.push(loss);
      if (progress.totalSteps === 0 && progress.step === 10) {
        const left = (deadline - performance.now()) / 1000;
        progress = { ...progress, totalSteps: estimateTotalSteps(o, progress, left) };
      }
      if (progress.step % LOG_EVERY === 0 || progress.step === progress.totalSteps) {
        const mean = losses.reduce((a, b) => a + b, 0) / losses.length;
        const tokS = (losses.length * inputs.length * 1000) / (performance.now() - windowStart);
        const evalNow = progress.step % o.evalEvery === 0 || progress.step === progress.totalSteps;
        const bpb = evalNow ? await quickHeldout(trainer, evalSet) : null;
        if (evalNow) {
          const history = [
            ...progress.history,
            { step: progress.step, loss: mean, heldoutBpb: bpb },
          ];
          progress = { ...progress, history };
        }
        const eta = ((progress.totalSteps - progress.step) * inputs.length) / tokS / 60;
        console.log(
          `step ${progress.step}/${progress.totalSteps} loss ${mean.toFixed(4)} ` +
            `lr ${lr.toExponential(2)}${bpb === null ? '' : ` heldout_bpb ${bpb.toFixed(4)}`} ` +
            `tok/s ${tokS.toFixed(0)} ETA ${eta.toFixed(1)} min`,
        );
        losses.length = 0;
        windowStart = performance.now();
      }
      if (performance.now() - lastCheckpoint > o.checkpointMinutes * 60_000) {
        await save();
        lastCheckpoint = performance.now();
        console.log(`checkpoint at step ${progress.step} -> ${o.checkpointPath}`);
      }
    }
    await save();
    finishRun(o, data, await trainer.exportWeights(), trainer.parameterCount, progress);
    return progress;
  } finally {
    trainer.dispose();
  }
}

function parseCli(argv: readonly string[]): PretrainOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      model: { type: 'string', default: 'llama' },
      seed: { type: 'string', default: '1' },
      steps: { type: 'string' },
      minutes: { type: 'string' },
      resume: { type: 'boolean', default: false },
      batch: { type: 'string', default: '8' },
      seq: { type: 'string', default: '256' },
      lr: { type: 'string', default: '3e-3' },
      warmup: { type: 'string', default: '100' },
      'eval-every': { type: 'string', default: '100' },
      'checkpoint-minutes': { type: 'string', default: '4' },
      out: { type: 'string', default: 'public/models' },
      checkpoint: { type: 'string' },
    },
  });
  const num = (flag: string, text: string, integer: boolean): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      throw new ValidationError(
        `--${flag} ${text} must be a positive ${integer ? 'integer' : 'number'}.`,
      );
    }
    return n;
  };
  const preset = modelPreset(values.model);
  if (values.steps === undefined && values.minutes === undefined) {
    throw new ValidationError(
      'give --steps N, --minutes M or both (e.g. --steps 3000 --minutes 40).',
    );
  }
  const seqLen = num('seq', values.seq, true);
  if (seqLen > CONTEXT)
    throw new ValidationError(`--seq ${seqLen} exceeds the ${CONTEXT}-token context.`);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed))
    throw new ValidationError(`--seed ${values.seed} must be an integer.`);
  return {
    preset,
    seed,
    steps: values.steps === undefined ? null : num('steps', values.steps, true),
    minutes: values.minutes === undefined ? null : num('minutes', values.minutes, false),
    resume: values.resume,
    batch: num('batch', values.batch, true),
    seqLen,
    peakLr: num('lr', values.lr, false),
    warmup: num('warmup', values.warmup, true),
    evalEvery: num('eval-every', values['eval-every'], true),
    checkpointMinutes: num('checkpoint-minutes', values['checkpoint-minutes'], false),
    outRoot: values.out,
    checkpointPath:
      values.checkpoint ??
      join(tmpdir(), 'loops-pretrain', `${preset.name}-seed${seed}.safetensors`),
  };
}

async function main(): Promise<void> {
  try {
    const options = parseCli(process.argv.slice(2));
    const backend = await selectBackend('wasm');
    console.log(
      `backend ${backend.backend} (${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'threads' : 'one thread'})`,
    );
    const t0 = performance.now();
    const data = loadPretrainData(
      join(options.outRoot, TOKENIZER_DIR),
      options.seqLen,
      options.seed,
    );
    console.log(
      `data: ${data.train.stream.length} training tokens, ${data.heldoutStream.length} held-out ` +
        `tokens (${((performance.now() - t0) / 1000).toFixed(1)} s to encode)`,
    );
    await pretrain(options, data);
  } catch (error) {
    if (!(error instanceof LoopsError)) throw error;
    console.error(`pretrain: ${error.message}`);
    process.exit(1);
  }
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(resolve(process.argv[1])).href
) {
  await main();
}
